"""A scenario in memory: the replay of its edit log, with per-object revisions and per-user undo/redo.

Pure data and rules, no I/O: :meth:`ScenarioModel.plan` turns a request (add, update, remove, undo,
redo, reset) into the :class:`~server.storage.EditRecord` to commit, or raises :class:`EditRefused`
with a German and English reason (and the object's current state for conflicts). After the record is
committed, :meth:`ScenarioModel.apply` advances the model; replaying all records rebuilds it exactly.

Revisions: an object gets revision ``last + 1`` on every change (add, update, remove, undo, redo), so a
stale ``base_revision`` is always detected, even across a remove and re-add of the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geodata.interventions import Intervention, decode_intervention, encode_intervention
from server.storage import EditRecord, ScenarioRow, now_utc

__all__ = ["ScenarioModel", "Entry", "EditRefused", "Author"]


@dataclass(frozen=True)
class Author:
    role: str
    department: str = ""
    name: str = ""
    user_id: str = ""
    session_id: str = ""


@dataclass(frozen=True)
class Entry:
    intervention: Intervention
    revision: int
    author: Author


class EditRefused(Exception):
    """An edit that cannot be applied; nothing changed. ``current`` is the object's state (or None)."""

    def __init__(self, code: str, de: str, en: str, current: Entry | None = None) -> None:
        super().__init__(f"{de} / {en}")
        self.code, self.de, self.en, self.current = code, de, en, current


def _author_of(rec: EditRecord) -> Author:
    return Author(rec.author_role, rec.author_department, rec.author_name, rec.author_id, rec.session_id)


@dataclass
class ScenarioModel:
    row: ScenarioRow
    version: int = 0
    objects: dict[str, Entry] = field(default_factory=dict)  # insertion order = application order
    last_revision: dict[str, int] = field(default_factory=dict)
    undo: dict[str, list[EditRecord]] = field(default_factory=dict)  # user key -> forward records
    redo: dict[str, list[tuple[EditRecord, EditRecord]]] = field(default_factory=dict)  # (forward, its undo)
    last_record: dict[str, EditRecord] = field(default_factory=dict)  # object id -> its latest change

    @classmethod
    def replay(cls, row: ScenarioRow, records: list[EditRecord]) -> ScenarioModel:
        m = cls(row=row)
        for rec in records:
            m.apply(rec)
        return m

    @property
    def scenario_id(self) -> str:
        return self.row.scenario_id

    def interventions(self) -> list[Intervention]:
        return [e.intervention for e in self.objects.values()]

    # --- applying committed records -----------------------------------------------------------------
    def apply(self, rec: EditRecord) -> None:
        if rec.version != self.version + 1:
            raise ValueError(f"record version {rec.version} does not follow {self.version}")
        author = _author_of(rec)
        if rec.op == "reset":
            self.objects = {}
            for d in rec.payload or []:
                obj = decode_intervention(d)
                rev = self.last_revision.get(obj.id, 0) + 1
                self.last_revision[obj.id] = rev
                self.objects[obj.id] = Entry(obj, rev, author)
            self.last_record.clear()
            self.undo.clear()
            self.redo.clear()
        else:
            self.last_revision[rec.object_id] = rec.revision
            self.last_record[rec.object_id] = rec
            if rec.op == "remove":
                self.objects.pop(rec.object_id, None)
            else:
                self.objects[rec.object_id] = Entry(decode_intervention(rec.payload), rec.revision, author)
            key = self.user_key(author)
            if rec.cause == "edit":
                self.undo.setdefault(key, []).append(rec)
                self.redo.pop(key, None)
            elif rec.cause == "undo":
                self.redo.setdefault(key, []).append((self.undo[key].pop(), rec))
            elif rec.cause == "redo":
                self.redo[key].pop()
                self.undo.setdefault(key, []).append(rec)
        self.version = rec.version

    @staticmethod
    def user_key(author: Author) -> str:
        """Whose undo stack: the account for token holders, the session for anonymous users."""
        return f"u:{author.user_id}" if author.user_id else f"s:{author.session_id}"

    # --- planning new records -----------------------------------------------------------------------
    def _record(self, author: Author, request_id: int, *, op: str, cause: str, object_id: str,
                revision: int, payload: Any, prev_payload: Any) -> EditRecord:
        return EditRecord(
            scenario_id=self.scenario_id, version=self.version + 1, op=op, cause=cause, object_id=object_id,
            revision=revision, payload=payload, prev_payload=prev_payload, author_role=author.role,
            author_department=author.department, author_name=author.name, author_id=author.user_id,
            session_id=author.session_id, request_id=request_id, created_utc=now_utc(),
        )

    def _next_rev(self, object_id: str) -> int:
        return self.last_revision.get(object_id, 0) + 1

    def _check_base(self, object_id: str, base_revision: int) -> Entry:
        cur = self.objects.get(object_id)
        if cur is None:
            raise EditRefused(
                "not_found", f"Maßnahme {object_id!r} gibt es (nicht mehr) im Szenario",
                f"Intervention {object_id!r} does not exist (any more) in the scenario",
            )
        if cur.revision != base_revision:
            who = cur.author.department or cur.author.role
            raise EditRefused(
                "conflict",
                f"Maßnahme {object_id!r} wurde inzwischen geändert (Stand {cur.revision}, von {who}); "
                f"Ihre Änderung bezog sich auf Stand {base_revision} und wurde nicht übernommen",
                f"Intervention {object_id!r} was changed meanwhile (revision {cur.revision}, by {who}); "
                f"your edit was made on revision {base_revision} and was not applied",
                cur,
            )
        return cur

    def plan_add(self, obj: Intervention, author: Author, request_id: int) -> EditRecord:
        if obj.id in self.objects:
            raise EditRefused(
                "exists", f"Eine Maßnahme mit der Kennung {obj.id!r} gibt es schon",
                f"An intervention with id {obj.id!r} already exists", self.objects[obj.id],
            )
        return self._record(author, request_id, op="add", cause="edit", object_id=obj.id,
                            revision=self._next_rev(obj.id), payload=encode_intervention(obj), prev_payload=None)

    def plan_update(self, obj: Intervention, base_revision: int, author: Author, request_id: int) -> EditRecord:
        cur = self._check_base(obj.id, base_revision)
        if cur.intervention.__struct_config__.tag != obj.__struct_config__.tag:  # type: ignore[attr-defined]
            raise EditRefused(
                "kind_changed", "Die Art einer Maßnahme kann nicht geändert werden",
                "The kind of an intervention cannot be changed", cur,
            )
        return self._record(author, request_id, op="update", cause="edit", object_id=obj.id,
                            revision=self._next_rev(obj.id), payload=encode_intervention(obj),
                            prev_payload=encode_intervention(cur.intervention))

    def plan_remove(self, object_id: str, base_revision: int, author: Author, request_id: int) -> EditRecord:
        cur = self._check_base(object_id, base_revision)
        return self._record(author, request_id, op="remove", cause="edit", object_id=object_id,
                            revision=self._next_rev(object_id), payload=None,
                            prev_payload=encode_intervention(cur.intervention))

    def plan_undo(self, author: Author, request_id: int) -> EditRecord:
        stack = self.undo.get(self.user_key(author), [])
        if not stack:
            raise EditRefused("nothing_to_undo", "Nichts rückgängig zu machen", "Nothing to undo")
        last = stack[-1]
        self._check_untouched(last)
        op = {"add": "remove", "remove": "add", "update": "update"}[last.op]
        return self._record(author, request_id, op=op, cause="undo", object_id=last.object_id,
                            revision=self._next_rev(last.object_id),
                            payload=last.prev_payload, prev_payload=last.payload)

    def plan_redo(self, author: Author, request_id: int) -> EditRecord:
        stack = self.redo.get(self.user_key(author), [])
        if not stack:
            raise EditRefused("nothing_to_redo", "Nichts wiederherzustellen", "Nothing to redo")
        orig, undone_by = stack[-1]
        self._check_untouched(undone_by)
        return self._record(author, request_id, op=orig.op, cause="redo", object_id=orig.object_id,
                            revision=self._next_rev(orig.object_id), payload=orig.payload,
                            prev_payload=orig.prev_payload)

    def _check_untouched(self, rec: EditRecord) -> None:
        """Undo and redo only while ``rec`` is still the latest change of its object."""
        last = self.last_record.get(rec.object_id)
        if last is None or last.version != rec.version:
            raise self._touched(rec.object_id)

    def _touched(self, object_id: str) -> EditRefused:
        return EditRefused(
            "conflict",
            f"Maßnahme {object_id!r} wurde seitdem von jemand anderem geändert; Rückgängig/Wiederholen ist nicht möglich",
            f"Intervention {object_id!r} was changed by someone else since; undo/redo is not possible",
            self.objects.get(object_id),
        )

    def plan_reset(self, base: list[dict[str, Any]], author: Author, cause: str = "reset") -> EditRecord:
        return self._record(author, 0, op="reset", cause=cause, object_id="*", revision=0,
                            payload=base, prev_payload=None)
