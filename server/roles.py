"""Roles, tokens, permissions and rate limits.

- ``admin``: everything, including tokens and moderation.
- ``planner`` (per department): creates, forks, edits, renames and archives scenarios (renames and
  archives those of the own department), moderates comments.
- ``citizen``: views, comments, proposes ideas and votes; never changes a scenario (nor asks for a
  sandbox copy). No account.
- ``kiosk``: a touch screen in public, paired by an admin (a kiosk token per device, revocable); edits
  only the sandbox copies it made itself, which reset after inactivity and expire.

Admins, planners and kiosk devices authenticate with a bearer token (REST: ``Authorization: Bearer
<token>``; websocket: ``Hello.token``); tokens expire and can be revoked. Without a token a client is
a citizen, whatever role it names. Citizens and kiosks are public: they are rate limited, get person
counts only as published aggregates, and their edits are bounded by :func:`check_edit_budget`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from server.storage import ScenarioRow, Storage

__all__ = ["User", "ROLES", "TOKEN_ROLES", "authenticate", "anonymous", "may_edit", "may_manage", "may_create",
           "may_moderate", "RateLimiter", "new_token", "Denied", "edit_denied", "Budgets", "BUDGETS",
           "check_edit_budget", "may_sandbox", "VisitorIds"]

ROLES = ("admin", "planner", "citizen", "kiosk")
TOKEN_ROLES = ("admin", "planner", "kiosk")


@dataclass(frozen=True)
class Budgets:
    """What one client may use. Counts beyond these are refused with 429, sizes with 413."""

    sandboxes_per_kiosk: int = 3  # open sandboxes of one kiosk device (one per parent scenario)
    sandboxes_total: int = 200  # open sandboxes on the server
    sandbox_lifetime_s: float = 4 * 3600.0  # a sandbox is removed with its results after this
    interventions_per_scenario: int = 400
    public_interventions_per_scenario: int = 40  # in a kiosk's sandbox
    public_area_m2: float = 20_000.0  # largest polygon a kiosk may draw (2 ha)
    public_housing_persons: int = 400  # residents a kiosk's housing edit may add
    housing_persons: int = 20_000  # residents any housing edit may add
    token_days: int = 90  # default lifetime of a new token (admins may choose 1..3650 days)


BUDGETS = Budgets()


@dataclass(frozen=True)
class User:
    role: str
    department: str = ""
    name: str = ""
    user_id: str = ""  # empty for anonymous users

    @property
    def is_anonymous(self) -> bool:
        return self.role in ("citizen", "kiosk")


class Denied(Exception):
    """Not allowed (HTTP 401/403, websocket error); bilingual message."""

    def __init__(self, de: str, en: str, *, status: int = 403, code: str = "forbidden") -> None:
        super().__init__(f"{de} / {en}")
        self.de, self.en, self.status, self.code = de, en, status, code


def new_token() -> str:
    return secrets.token_urlsafe(24)


def anonymous(role: str, name: str = "") -> User:
    return User(role=role if role in ("citizen", "kiosk") else "citizen", name=name[:60])


def authenticate(storage: Storage, token: str, *, requested_role: str = "citizen", name: str = "") -> User:
    """The user of a token, or an anonymous citizen/kiosk when no token is given.

    Raises Denied (401) for an unknown, expired or revoked token, or when a privileged role is
    requested without one. Without a token the user is a citizen: a kiosk needs its device token.
    """
    if token:
        info = storage.lookup_token(token)
        if info is None:
            raise Denied("Unbekannter, abgelaufener oder widerrufener Zugangsschlüssel",
                         "Unknown, expired or revoked access token", status=401, code="unauthorised")
        return User(role=info["role"], department=info["department"], name=info["name"], user_id=info["user_id"])
    if requested_role in ("admin", "planner"):
        raise Denied(
            "Für die Rolle Planer oder Admin ist ein Zugangsschlüssel nötig",
            "The planner and admin roles need an access token", status=401, code="unauthorised",
        )
    return anonymous("citizen", name)


def may_edit(user: User, scenario: ScenarioRow) -> bool:
    """May this user change the interventions of this scenario?"""
    if scenario.status != "active":
        return False
    if user.role == "admin":
        return True
    if user.role == "planner":
        return scenario.kind == "official" or (scenario.kind == "draft" and scenario.created_by == user.department)
    if user.role == "kiosk":
        return scenario.kind == "sandbox" and scenario.owner_id == user.user_id
    return False


def edit_denied(user: User, scenario: ScenarioRow) -> Denied:
    if scenario.status != "active":
        return Denied("Das Szenario ist archiviert und kann nicht geändert werden",
                      "The scenario is archived and cannot be changed", code="archived")
    if user.role == "kiosk":
        return Denied("Am Kiosk kann nur die eigene Sandbox-Kopie geändert werden",
                      "A kiosk can change only its own sandbox copy")
    if user.role == "planner":
        return Denied("Entwürfe ändert nur die Abteilung, die sie angelegt hat",
                      "Only the department that created a draft can change it")
    return Denied("Bürgerinnen und Bürger können Szenarien ansehen und kommentieren, aber nicht ändern",
                  "Citizens can view and comment on scenarios but not change them")


def may_create(user: User) -> bool:
    return user.role in ("admin", "planner")


def may_manage(user: User, scenario: ScenarioRow) -> bool:
    """Rename or archive: admins always, planners for their own department's scenarios."""
    if user.role == "admin":
        return True
    return user.role == "planner" and scenario.kind != "sandbox" and scenario.created_by == user.department


def may_moderate(user: User) -> bool:
    return user.role in ("admin", "planner")


def may_sandbox(user: User) -> bool:
    """Sandbox copies are for paired kiosk devices, planners and admins (never for a bare header)."""
    return user.role in ("admin", "planner", "kiosk")


def _too_large(de: str, en: str) -> Denied:
    return Denied(de, en, status=413, code="too_large")


def check_edit_budget(user: User, scenario: ScenarioRow, n_objects: int, obj: Any, *, adds: bool,
                      budgets: Budgets = BUDGETS) -> None:
    """Refuse an edit beyond the budgets: too many interventions in the scenario (429) or one
    intervention too large (413); kiosks (public) have the smaller budgets."""
    public = user.is_anonymous
    cap = budgets.public_interventions_per_scenario if public else budgets.interventions_per_scenario
    if adds and n_objects >= cap:
        raise Denied(f"Höchstens {cap} Maßnahmen je Szenario", f"At most {cap} interventions per scenario",
                     status=429, code="limit")
    if obj is None:
        return
    tag = obj.__struct_config__.tag
    if tag == "housing":
        persons = float(obj.dwellings) * float(obj.persons_per_dwelling)
        most = budgets.public_housing_persons if public else budgets.housing_persons
        if persons > most:
            raise _too_large(f"Ein Wohnungsbau darf höchstens {most} Personen hinzufügen ({persons:.0f})",
                             f"A housing development may add at most {most} persons ({persons:.0f})")
    ring = getattr(obj, "polygon_local_m", None)
    if public and ring:
        from shapely.geometry import Polygon

        area = float(Polygon(ring).area)
        if area > budgets.public_area_m2:
            raise _too_large(f"Fläche zu groß ({area:.0f} m² > {budgets.public_area_m2:.0f} m²)",
                             f"Area too large ({area:.0f} m² > {budgets.public_area_m2:.0f} m²)")


class RateLimiter:
    """Token buckets per key: ``rate_per_s`` sustained, ``burst`` at once. Keys are forgotten when full."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate, self.burst = float(rate_per_s), float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, cost: float = 1.0) -> bool:
        now = time.monotonic()
        with self._lock:
            level, t0 = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - t0) * self.rate)
            if level < cost:
                self._buckets[key] = (level, now)
                return False
            self._buckets[key] = (level - cost, now)
            if len(self._buckets) > 10000:  # forget keys that are full again
                full = [k for k, (lv, t) in self._buckets.items() if lv + (now - t) * self.rate >= self.burst]
                for k in full:
                    del self._buckets[k]
            return True


class VisitorIds:
    """Random visitor ids signed with a server secret (HMAC-SHA256), for a cookie: the server chooses
    the id, a client cannot make up a valid one, and nothing about the person is in it."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, vid: str) -> str:
        return hmac.new(self._secret, vid.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> tuple[str, str]:
        """A new (id, cookie value)."""
        vid = secrets.token_hex(12)
        return vid, f"{vid}.{self._sign(vid)}"

    def verify(self, cookie: str) -> str | None:
        """The id in a cookie value, or None when it is missing or not signed by this server."""
        vid, _, sig = (cookie or "")[:80].partition(".")
        if not vid or not sig or not hmac.compare_digest(sig, self._sign(vid)):
            return None
        return vid
