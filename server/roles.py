"""Roles, tokens, permissions and rate limits.

- ``admin``: everything, including tokens and moderation.
- ``planner`` (per department): creates, forks, edits, renames and archives scenarios (renames and
  archives those of the own department), moderates comments.
- ``citizen``: views, comments, proposes ideas and votes; never changes a scenario (nor asks for a
  sandbox copy). No account.
- ``kiosk``: a touch screen in public; edits only its sandbox copy, which resets after inactivity.

Planners and admins authenticate with a bearer token (REST: ``Authorization: Bearer <token>``;
websocket: ``Hello.token``). Citizens and kiosks are anonymous and rate limited per client key.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from server.storage import ScenarioRow, Storage

__all__ = ["User", "ROLES", "authenticate", "anonymous", "may_edit", "may_manage", "may_create",
           "may_moderate", "RateLimiter", "new_token", "Denied", "edit_denied"]

ROLES = ("admin", "planner", "citizen", "kiosk")


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

    Raises Denied (401) for an unknown token, or when a privileged role is requested without one.
    """
    if token:
        info = storage.lookup_token(token)
        if info is None:
            raise Denied("Unbekannter Zugangsschlüssel", "Unknown access token", status=401, code="unauthorised")
        return User(role=info["role"], department=info["department"], name=info["name"], user_id=info["user_id"])
    if requested_role in ("admin", "planner"):
        raise Denied(
            "Für die Rolle Planer oder Admin ist ein Zugangsschlüssel nötig",
            "The planner and admin roles need an access token", status=401, code="unauthorised",
        )
    return anonymous(requested_role, name)


def may_edit(user: User, scenario: ScenarioRow) -> bool:
    """May this user change the interventions of this scenario?"""
    if scenario.status != "active":
        return False
    if user.role == "admin":
        return True
    if user.role == "planner":
        return scenario.kind in ("official", "draft")
    if user.role == "kiosk":
        return scenario.kind == "sandbox"
    return False


def edit_denied(user: User, scenario: ScenarioRow) -> Denied:
    if scenario.status != "active":
        return Denied("Das Szenario ist archiviert und kann nicht geändert werden",
                      "The scenario is archived and cannot be changed", code="archived")
    if user.role == "kiosk":
        return Denied("Am Kiosk kann nur die Sandbox-Kopie geändert werden",
                      "A kiosk can change only its sandbox copy")
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
