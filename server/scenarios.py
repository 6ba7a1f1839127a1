"""Scenario management: the one place where edits are validated, committed and applied.

REST routes and websocket sessions both call :class:`ScenarioManager`; it checks the role, validates the
intervention (schema, geometry, inside the district, existing objects), plans the record against the
in-memory model, commits it to storage (durable before anything is acknowledged) and only then
advances the model. Each scenario has a lock, so edits on one scenario are serialised; when another
process committed first (shared PostgreSQL), the model is reloaded and the edit planned again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import protocol as p
from geodata.interventions import (
    Intervention,
    InterventionError,
    decode_intervention,
    encode_intervention,
    validate_against,
)
from server.districts import DistrictCatalog
from server.region_subject import LoadedRegion, RegionCatalog, is_region_subject
from server.roles import (
    BUDGETS,
    Budgets,
    Denied,
    User,
    check_edit_budget,
    edit_denied,
    may_create,
    may_edit,
    may_manage,
    may_sandbox,
)
from server.scenario import Author, EditRefused, Entry, ScenarioModel
from server.storage import EditRecord, ScenarioRow, Storage, VersionTaken, utc_in

__all__ = ["ScenarioManager", "NotFound", "to_user_info", "entry_to_protocol", "state_to_protocol"]


class NotFound(LookupError):
    def __init__(self, de: str, en: str) -> None:
        super().__init__(f"{de} / {en}")
        self.de, self.en = de, en


def to_user_info(a: Author | User) -> p.UserInfo:
    return p.UserInfo(role=a.role, department=a.department, name=a.name, user_id=a.user_id)  # type: ignore[arg-type]


def entry_to_protocol(e: Entry) -> p.InterventionEntry:
    return p.InterventionEntry(e.intervention, e.revision, to_user_info(e.author))


def state_to_protocol(m: ScenarioModel) -> p.ScenarioState:
    return p.ScenarioState(
        scenario_id=m.row.scenario_id, name=m.row.name, district=m.row.district, version=m.version,
        status=m.row.status, kind=m.row.kind, parent_id=m.row.parent_id,  # type: ignore[arg-type]
        interventions=[entry_to_protocol(e) for e in m.objects.values()],
    )


class ScenarioManager:
    """Thread-safe; every method is synchronous (call it from a worker thread in async code)."""

    def __init__(self, storage: Storage, districts: DistrictCatalog, budgets: Budgets = BUDGETS) -> None:
        self.storage = storage
        self.budgets = budgets
        self.districts = districts
        self.regions = RegionCatalog(districts.root.parent)  # subjects 'region:<name>'
        self._models: dict[str, ScenarioModel] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.listeners: list[Callable[[ScenarioModel, EditRecord], None]] = []
        self._transit_base: dict[str, Any] = {}

    def _lock(self, sid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sid, threading.Lock())

    # --- reading ------------------------------------------------------------------------------------
    def row(self, sid: str) -> ScenarioRow:
        row = self.storage.get_scenario(sid) if isinstance(sid, str) and len(sid) <= 32 else None
        if row is None:
            raise NotFound(f"Szenario {sid!r} gibt es nicht", f"Scenario {sid!r} does not exist")
        return row

    def model(self, sid: str) -> ScenarioModel:
        with self._lock(sid):
            return self._model_locked(sid)

    def _model_locked(self, sid: str) -> ScenarioModel:
        m = self._models.get(sid)
        if m is None:
            row = self.row(sid)
            m = ScenarioModel.replay(row, self.storage.load_edits(sid))
            self._models[sid] = m
        return m

    def _refresh_locked(self, sid: str) -> ScenarioModel:
        m = self._model_locked(sid)
        for rec in self.storage.load_edits(sid, after_version=m.version):
            m.apply(rec)
        row = self.storage.get_scenario(sid)
        if row is not None:
            m.row = row
        return m

    def state(self, sid: str) -> p.ScenarioState:
        with self._lock(sid):
            return state_to_protocol(self._model_locked(sid))

    # --- scenario lifecycle -------------------------------------------------------------------------
    def create(self, user: User, *, name: str, district: str, kind: str = "official",
               interventions: list[dict[str, Any]] | None = None, parent_id: str = "") -> ScenarioModel:
        if kind != "sandbox" and not may_create(user):
            raise Denied("Nur Planer und Admins legen Szenarien an", "Only planners and admins create scenarios")
        d = self.subject(district)
        base = []
        for item in interventions or []:
            obj = self._validated(item, d)
            base.append(encode_intervention(obj))
        ids = [b["id"] for b in base]
        if len(set(ids)) != len(ids):
            raise InterventionError("Kennungen der Maßnahmen sind nicht eindeutig", "Intervention ids are not unique")
        owner, expires = "", ""
        if kind == "sandbox":
            owner, expires = user.user_id, utc_in(self.budgets.sandbox_lifetime_s)
        row = self.storage.create_scenario(name=name, district=district, kind=kind, parent_id=parent_id,
                                           created_by=user.department or user.role, owner_id=owner,
                                           expires_utc=expires)
        with self._lock(row.scenario_id):
            m = ScenarioModel(row=row)
            self._models[row.scenario_id] = m
            if base:
                self._commit_locked(m, m.plan_reset(base, _author(user, ""), cause="fork"))
            return m

    def fork(self, user: User, sid: str, *, name: str, kind: str = "draft") -> ScenarioModel:
        src = self.model(sid)
        base = [encode_intervention(o) for o in src.interventions()]
        return self.create(user, name=name, district=src.row.district, kind=kind, interventions=base,
                           parent_id=sid)

    def sandbox(self, user: User, sid: str, *, fresh: bool = False) -> tuple[ScenarioModel, str | None]:
        """The caller's sandbox copy of ``sid``: its open one when it has one (``fresh``: that one is
        removed and a new one made), else a new one within the budgets (open sandboxes per kiosk device
        and on the server: 429 beyond them). Returns the sandbox and the id of a removed one."""
        if not may_sandbox(user):
            raise Denied("Sandbox-Kopien gibt es nur für gekoppelte Kiosk-Geräte, Planer und Admins",
                         "Sandbox copies are for paired kiosk devices, planners and admins")
        self.row(sid)
        removed = None
        if user.user_id:
            mine = self.storage.find_sandbox(user.user_id, sid)
            if mine is not None and not fresh:
                return self.model(mine), None
            if mine is not None:
                self.remove(mine)
                removed = mine
        b = self.budgets
        if user.role == "kiosk" and self.storage.count_sandboxes(user.user_id) >= b.sandboxes_per_kiosk:
            raise Denied(f"Dieses Gerät hat schon {b.sandboxes_per_kiosk} Sandbox-Kopien offen",
                         f"This device already has {b.sandboxes_per_kiosk} open sandbox copies", status=429, code="limit")
        if self.storage.count_sandboxes() >= b.sandboxes_total:
            raise Denied("Zu viele Sandbox-Kopien offen, bitte später erneut",
                         "Too many open sandbox copies, please retry later", status=429, code="limit")
        return self.fork(user, sid, name="Kiosk", kind="sandbox"), removed

    def remove(self, sid: str) -> None:
        """Remove a sandbox with its edits and results in storage (nothing else is ever removed)."""
        with self._lock(sid):
            if self.row(sid).kind != "sandbox":
                raise Denied("Nur Sandbox-Kopien werden entfernt", "Only sandbox copies are removed")
            self.storage.delete_scenario(sid)
            self._models.pop(sid, None)
            self.regions.drop(sid)

    def remove_expired(self, now: str | None = None) -> list[str]:
        """Remove expired sandboxes with their edits and results; returns their ids."""
        gone = self.storage.expired_sandboxes(now)
        for sid in gone:
            self.remove(sid)
        return gone

    def update_meta(self, user: User, sid: str, *, name: str | None = None, status: str | None = None) -> ScenarioRow:
        row = self.row(sid)
        if not may_manage(user, row):
            raise Denied("Nur Admins und die anlegende Abteilung dürfen umbenennen oder archivieren",
                         "Only admins and the creating department may rename or archive")
        self.storage.update_scenario(sid, name=name, status=status)
        with self._lock(sid):
            m = self._model_locked(sid)
            m.row = self.row(sid)
            return m.row

    def reset_to_parent(self, sid: str) -> ScenarioModel:
        """Reset a sandbox to its parent scenario's current interventions (kiosk inactivity)."""
        with self._lock(sid):
            m = self._refresh_locked(sid)
            parent = self.model(m.row.parent_id) if m.row.parent_id else None
            base = [encode_intervention(o) for o in parent.interventions()] if parent else []
            rec = m.plan_reset(base, Author(role="kiosk", name="reset"))
            self._commit_locked(m, rec)
            return m

    def subject(self, name: str) -> Any:
        """What a scenario edits: a town district, or a region for ``region:<name>``."""
        return self.regions.get(name) if is_region_subject(name) else self.districts.get(name)

    # --- edits --------------------------------------------------------------------------------------
    def _validated(self, item: Intervention | dict[str, Any], district: Any) -> Intervention:
        data = encode_intervention(item) if not isinstance(item, dict) else item
        obj = decode_intervention(data)  # schema and geometry
        if isinstance(district, LoadedRegion):
            district.validate(obj)  # a region edit inside the Kreis
        else:
            validate_against(obj, district)  # inside the district, existing objects
        return obj

    def edit(self, user: User, session_id: str, sid: str, msg: Any) -> tuple[ScenarioModel, EditRecord]:
        """Apply one edit message (protocol Add/Update/Remove/Undo/Redo) and return the committed record.

        Raises Denied, NotFound, EditRefused (with ``current``) or InterventionError; nothing changes then.
        """
        row = self.row(sid)
        if not may_edit(user, row):
            raise edit_denied(user, row)
        obj = None
        if isinstance(msg, (p.AddIntervention, p.UpdateIntervention)):
            check_edit_budget(user, row, 0, msg.intervention, adds=False, budgets=self.budgets)
            obj = self._validated(msg.intervention, self.subject(row.district))
        author = _author(user, session_id)
        with self._lock(sid):
            for attempt in range(3):
                m = self._model_locked(sid) if attempt == 0 else self._refresh_locked(sid)
                if m.row.status != "active":
                    raise edit_denied(user, m.row)
                if isinstance(msg, p.AddIntervention):
                    rec = m.plan_add(obj, author, msg.request_id)
                elif isinstance(msg, p.UpdateIntervention):
                    rec = m.plan_update(obj, msg.base_revision, author, msg.request_id)
                elif isinstance(msg, p.RemoveIntervention):
                    rec = m.plan_remove(msg.object_id, msg.base_revision, author, msg.request_id)
                elif isinstance(msg, p.Undo):
                    rec = m.plan_undo(author, msg.request_id)
                elif isinstance(msg, p.Redo):
                    rec = m.plan_redo(author, msg.request_id)
                else:
                    raise TypeError(type(msg).__name__)
                if rec.op == "add" and rec.object_id not in m.objects:
                    check_edit_budget(user, m.row, len(m.objects), None, adds=True, budgets=self.budgets)
                self._check_applies(m, rec)
                try:
                    self._commit_locked(m, rec)
                    return m, rec
                except VersionTaken:
                    continue
        raise EditRefused("busy", "Szenario wird gerade stark bearbeitet, bitte erneut versuchen",
                          "Scenario is busy, please retry")

    def _check_applies(self, m: ScenarioModel, rec: EditRecord) -> None:
        """The scenario with ``rec`` applied must still be computable: the geodata appliers of heat,
        road and transit edits accept it (a tree on a roof, closing a closed road, a headway change of
        a missing line are refused here, before anything is stored)."""
        from geodata.apply_heat import apply_heat_interventions
        from geodata.apply_roads import apply_road_interventions
        from geodata.apply_transit import apply_transit, network_from_district
        from geodata.interventions import HEAT_KINDS, ROAD_KINDS, TRANSIT_KINDS

        if is_region_subject(m.row.district):
            return  # region edits are checked one by one by _validated and always apply
        district = self.districts.get(m.row.district)
        new = decode_intervention(rec.payload) if rec.payload is not None and rec.op != "reset" else None
        after = [o for o in m.interventions() if o.id != rec.object_id]
        if new is not None:
            after.append(new)
        kinds = {o.__struct_config__.tag for o in ([new] if new else [])}  # type: ignore[attr-defined]
        old = m.objects.get(rec.object_id)
        if old is not None:
            kinds.add(old.intervention.__struct_config__.tag)  # type: ignore[attr-defined]
        try:
            if new is not None and kinds & HEAT_KINDS:
                apply_heat_interventions(district, [new])
            if kinds & ROAD_KINDS:
                apply_road_interventions(district.roads, after, bbox_local_m=district.grid.bbox_local_m)
            if kinds & TRANSIT_KINDS:
                if self._transit_base.get(district.name) is None:
                    self._transit_base[district.name] = network_from_district(district)
                apply_transit(district, self._transit_base[district.name], after)
        except (InterventionError, ValueError) as exc:
            de = getattr(exc, "de", str(exc))
            en = getattr(exc, "en", str(exc))
            raise EditRefused("invalid", de, en, old) from None

    def _commit_locked(self, m: ScenarioModel, rec: EditRecord) -> None:
        self.storage.append_edit(rec)  # durable from here on
        m.apply(rec)
        for listener in list(self.listeners):
            listener(m, rec)


def _author(user: User, session_id: str) -> Author:
    return Author(role=user.role, department=user.department, name=user.name, user_id=user.user_id,
                  session_id=session_id)


def applied_message(m: ScenarioModel, rec: EditRecord) -> p.EditApplied:
    """The broadcast of a committed (non-reset) record."""
    entry = m.objects.get(rec.object_id)
    return p.EditApplied(
        scenario_id=m.scenario_id, scenario_version=rec.version, op=rec.op, cause=rec.cause,  # type: ignore[arg-type]
        object_id=rec.object_id, revision=rec.revision,
        intervention=entry.intervention if (entry and rec.op != "remove") else None,
        by=p.UserInfo(role=rec.author_role, department=rec.author_department, name=rec.author_name,  # type: ignore[arg-type]
                      user_id=rec.author_id),
        session_id=rec.session_id, request_id=rec.request_id, at_utc=rec.created_utc,
    )


def refused_message(request_id: int, exc: Exception, version: int) -> p.EditRejected:
    current = getattr(exc, "current", None)
    code = getattr(exc, "code", "invalid")
    de = getattr(exc, "de", str(exc))
    en = getattr(exc, "en", str(exc))
    return p.EditRejected(request_id=request_id, code=code, message_de=de, message_en=en,
                          scenario_version=version, current=entry_to_protocol(current) if current else None)


__all__ += ["applied_message", "refused_message"]
