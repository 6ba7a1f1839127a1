"""``Twin``: everything one server process holds (storage, districts, scenarios, the live hub and the
simulation service); routes reach it as ``request.app.state.twin`` through :mod:`server.api.deps`.

It also holds the public budgets: rate limits per visitor and IP address (REST) and the signed visitor
ids (:class:`server.roles.VisitorIds`, secret in ``<data>/visitor-secret``, mode 0600)."""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import threading
from typing import Any

import numpy as np

import protocol as p
from geodata.district import District
from server.districts import DistrictCatalog
from server.engines import available_engines
from server.hub import Connection, Hub, Outgoing
from server.region_subject import is_region_subject
from server.roles import BUDGETS, Budgets, Denied, RateLimiter, VisitorIds
from server.scenario import ScenarioModel
from server.scenarios import NotFound, ScenarioManager, applied_message, state_to_protocol
from server.service import MAX_LIVE_HOURS, SHOWN_HOUR, ResultSet, SimulationService, Superseded
from server.settings import Settings
from server.storage import EditRecord, Storage, write_secret

__all__ = ["Twin", "NotReady", "MAX_PUBLIC_EXPORTS"]

MAX_PUBLIC_EXPORTS = 4  # hour computations public clients may have queued at once (on the whole server)

log = logging.getLogger("landtwin.twin")


class NotReady(Denied):
    """Results are not stored yet (anonymous clients never start a computation of their own): 503."""

    def __init__(self, de: str, en: str) -> None:
        super().__init__(de, en, status=503, code="not_ready")


def _secret(path: Any) -> bytes:
    if not path.exists():
        write_secret(path, secrets.token_hex(32) + "\n")
    return path.read_text(encoding="utf-8").strip().encode()


class Twin:
    """Everything one server process holds; reached from routes as ``request.app.state.twin``."""

    def __init__(self, settings: Settings, *, districts: list[District] | None = None,
                 engines: list[str] | None = None, debounce_s: float = 0.15, kiosk_idle_s: float = 300.0,
                 budgets: Budgets = BUDGETS, job_timeout_s: float = 120.0, public_wait_s: float = 5.0) -> None:
        self.settings = settings
        self.storage = Storage(settings.db_url)
        self.districts = DistrictCatalog(settings.data)
        for d in districts or []:
            self.districts.register(d)
        self.budgets = budgets
        self.manager = ScenarioManager(self.storage, self.districts, budgets)
        self.hub = Hub()
        self.engines = engines if engines is not None else available_engines()
        self.service = SimulationService(self.storage, self.hub.publish_threadsafe, arch=settings.arch,
                                         debounce_s=debounce_s, engines=self.engines, job_timeout_s=job_timeout_s)
        self.kiosk_idle_s = kiosk_idle_s
        self.public_wait_s = public_wait_s  # how long a public request waits for the shared live job
        self.visitors = VisitorIds(_secret(settings.data / "visitor-secret"))
        self.new_visitors = RateLimiter(rate_per_s=0.2, burst=30)  # new visitor ids per IP address
        self.anon_writes = RateLimiter(rate_per_s=0.5, burst=10)  # comments, votes, sandboxes per visitor and IP
        self.ip_writes = RateLimiter(rate_per_s=5.0, burst=100)  # all visitors behind one address together
        self.public_reads = RateLimiter(rate_per_s=2.0, burst=20)  # exports and KPI tables per visitor and IP
        self.manager.listeners.append(self._on_commit)

    # called in the committing thread, after the record is durable
    def _on_commit(self, m: ScenarioModel, rec: EditRecord) -> None:
        self.service.mark(m.scenario_id, m.version, "commit")  # the edit is in the edit log
        if rec.op == "reset":
            self.hub.publish_threadsafe(m.scenario_id, p.Reset(state_to_protocol(m)))
        else:
            self.hub.publish_threadsafe(m.scenario_id, applied_message(m, rec))
        self.request_results(m)

    def allow_write(self, budget_key: str, ip: str, cost: float = 1.0) -> None:
        """A public write (comment, vote, sandbox) within the visitor's and the address's budget, or 429."""
        if not (self.anon_writes.allow(budget_key, cost) and self.ip_writes.allow(ip, cost)):
            raise Denied("Zu viele Anfragen, bitte später erneut", "Too many requests, please retry later",
                         status=429, code="rate_limited")

    def allow_read(self, budget_key: str, ip: str) -> None:
        """A public export or KPI table within the visitor's and the address's budget, or 429."""
        if not (self.public_reads.allow(budget_key) and self.ip_writes.allow(ip, 0.2)):
            raise Denied("Zu viele Anfragen, bitte später erneut", "Too many requests, please retry later",
                         status=429, code="rate_limited")

    def hours_for(self, scenario_id: str) -> tuple[int, ...]:
        """Hours of a live job: the shown hour (of the KPIs) and the hours most subscribed by token
        holders, at most :data:`MAX_LIVE_HOURS` in all. Public clients never add hours to the work of
        every edit: they see the shown hours, and other hours only from stored results."""
        room = self.hub.rooms.get(scenario_id, {})
        counts = collections.Counter(c.hour for c in list(room.values())
                                     if "heat" in c.layers and c.hour != SHOWN_HOUR and not c.user.is_anonymous)
        return tuple(sorted({SHOWN_HOUR, *(h for h, _ in counts.most_common(MAX_LIVE_HOURS - 1))}))

    def request_results(self, m: ScenarioModel, *, wait: bool = False) -> Any:
        if is_region_subject(m.row.district):  # the region's access model, here (no simulation worker), when asked
            return self.manager.regions.results(m.scenario_id, m.version, m.row.district, list(m.interventions())) if wait else None
        self.service.start()  # idempotent; normally started by the lifespan
        district = self.districts.get(m.row.district)
        return self.service.request(m.scenario_id, m.version, district, list(m.interventions()),
                                    self.hours_for(m.scenario_id), wait=wait, timeout=60.0)

    def results(self, scenario_id: str) -> Any:
        """Results of the scenario's current version at the shown hour, computed now when missing (blocking)."""
        return self.shown_results(scenario_id, compute=True)

    def shown_results(self, scenario_id: str, *, compute: bool) -> ResultSet:
        """The current version's results at the shown hour (15:00): stored ones, else computed now
        (``compute``) or NotReady (a live computation is started, the client asks again)."""
        m = self.manager.model(scenario_id)
        if is_region_subject(m.row.district):  # cheap, once per version, bounded by the edits: for everyone
            return self.request_results(m, wait=True)
        res = self.service.cached(scenario_id, m.version)
        if res is not None:
            return res
        if compute:
            return self.request_results(m, wait=True)
        self.request_results(m)  # the live job everyone needs (debounced, shared); wait a little for it
        res = self.service.wait_live(scenario_id, m.version, self.public_wait_s)
        if res is not None:
            return res
        raise NotReady("Die Ergebnisse werden gerade berechnet, bitte gleich erneut abrufen",
                       "The results are being computed, please ask again shortly")

    def field(self, scenario_id: str, layer: str, hour: int, *, public: bool,
              cancel: threading.Event | None = None) -> np.ndarray:
        """The ``layer`` field (rows, cols) of the current version at ``hour``: from the shown results
        when they hold that hour, else from an export's stored result, else (never for ``public``)
        computed for that hour alone; what the scenario's viewers see is never replaced."""
        m = self.manager.model(scenario_id)
        found = self.service.cached(scenario_id, m.version, (hour,))
        if found is None and public and hour in self.hours_for(scenario_id):
            found = self.shown_results(scenario_id, compute=False)  # the shared live job (waits a little)
        if found is None:
            if public:
                found = self.service.stored_export(scenario_id, m.version, hour, "heat")
                if found is None:
                    raise NotReady(f"Feld zur Stunde {hour} ist nicht gespeichert; öffentlich gibt es nur gespeicherte Ergebnisse",
                                   f"The field at hour {hour} is not stored; the public gets stored results only")
            else:
                try:
                    found = self.service.export(scenario_id, m.version, self.districts.get(m.row.district),
                                                list(m.interventions()), hour, "heat", timeout=60.0, cancel=cancel)
                except Superseded:
                    raise NotReady("Die Berechnung musste einer Änderung weichen, bitte erneut abrufen",
                                   "The computation gave way to an edit, please ask again") from None
                except TimeoutError:
                    raise NotReady("Die Berechnung dauert zu lange, bitte später erneut",
                                   "The computation takes too long, please retry later") from None
        arr = _field_of(found, layer, hour)
        if arr is None:
            raise NotFound(f"Feld {layer!r} zur Stunde {hour} gibt es nicht", f"Field {layer!r} at hour {hour} does not exist")
        return arr

    def send_results(self, conn: Connection, district: District) -> None:
        """After a subscription: the newest results to this connection only, or compute them."""
        m = self.manager.model(conn.scenario_id)
        hours = (conn.hour,) if "heat" in conn.layers else (SHOWN_HOUR,)
        res = self.service.cached(conn.scenario_id, m.version, hours)
        if res is None:
            if "heat" in conn.layers and conn.hour not in self.hours_for(conn.scenario_id):
                self._rare_hour(conn, m, district)
                res = self.service.cached(conn.scenario_id, m.version)  # the other layers: the shown results
            if res is None:
                self.request_results(m)  # on their way to everyone on the scenario
                return
        self._send_frames(conn, res.frames())

    def _send_frames(self, conn: Connection, frames: list[Any]) -> None:
        loop = self.hub.loop
        for f in frames:
            full = f[1] if isinstance(f, tuple) else f
            if conn.wants(full) and loop is not None:
                loop.call_soon_threadsafe(self.hub.send_frame, conn, full)

    def _rare_hour(self, conn: Connection, m: ScenarioModel, district: District) -> None:
        """A subscribed hour outside the live hours: its fields computed once, for that hour alone, at
        low priority (live work first; never more than :data:`MAX_PUBLIC_EXPORTS` queued for public
        clients), sent to this connection when ready, stored for everyone after."""
        hour = conn.hour

        def deliver(res: ResultSet | None) -> None:
            if res is None or conn.closed or conn.hour != hour:
                return
            self._send_frames(conn, [f for f in res.frames() if isinstance(f, (p.FieldFrame, tuple))])

        queued = self.service.export_later(conn.scenario_id, m.version, district, list(m.interventions()), hour, "heat",
                                           deliver, max_pending=MAX_PUBLIC_EXPORTS if conn.user.is_anonymous else None)
        if not queued and self.hub.loop is not None:  # the visitor learns why the hour stays empty
            busy = p.ErrorMessage(code="busy", message_de=f"Die Stunde {hour} Uhr wird gerade nicht berechnet: zu viele "
                                  "Anfragen. Bitte gleich noch einmal versuchen.",
                                  message_en=f"Hour {hour}:00 is not computed right now: too many requests. Please try "
                                  "again in a moment.", scenario_version=m.version)
            self.hub.loop.call_soon_threadsafe(self.hub.send, conn, None, Outgoing(busy))

    async def kiosk_reset_loop(self) -> None:
        """Reset kiosk sandboxes that nobody touched for ``kiosk_idle_s`` seconds; remove expired ones."""
        last_sweep = 0.0
        while True:
            await asyncio.sleep(min(5.0, self.kiosk_idle_s / 2))
            now = asyncio.get_running_loop().time()
            for sid, t in list(self.hub.last_activity.items()):
                if now - t < self.kiosk_idle_s:
                    continue
                try:
                    m = await asyncio.to_thread(self.manager.model, sid)
                    if m.row.kind == "sandbox" and m.last_record:
                        await asyncio.to_thread(self.manager.reset_to_parent, sid)
                except NotFound:
                    pass
                except Exception:  # noqa: BLE001 - one bad sandbox must not stop the loop
                    log.exception("kiosk reset of %s failed", sid)
                self.hub.last_activity.pop(sid, None)
            if now - last_sweep >= 30.0:
                last_sweep = now
                try:
                    await asyncio.to_thread(self.remove_expired)
                except Exception:  # noqa: BLE001 - retried at the next sweep
                    log.exception("removing expired sandboxes failed")

    def sandbox(self, user: Any, scenario_id: str, *, fresh: bool = False) -> ScenarioModel:
        """The user's sandbox copy of a scenario (:meth:`ScenarioManager.sandbox`); a replaced one's
        results are forgotten too."""
        m, removed = self.manager.sandbox(user, scenario_id, fresh=fresh)
        if removed:
            self.service.drop(removed)
        return m

    def remove_expired(self, now: str | None = None) -> list[str]:
        """Remove expired sandboxes with their results (in storage and memory)."""
        gone = self.manager.remove_expired(now)
        for sid in gone:
            self.service.drop(sid)
        return gone

    def close(self) -> None:
        self.service.stop()
        self.storage.dispose()


def _field_of(res: ResultSet, layer: str, hour: int) -> np.ndarray | None:
    for out in res.outputs.values():
        if layer in out.fields:
            hours, arr = out.fields[layer]
            if hour in hours:
                return np.asarray(arr[hours.index(hour)])
    for f in res.frames():  # results read back from storage keep their (quantised) frames
        f = f[1] if isinstance(f, tuple) else f
        if isinstance(f, p.FieldFrame) and f.layer == layer and f.hour == hour and f.full:
            return p.field_on_grid(p.apply_field_frame(None, f), f)  # a coarse air raster interpolated to the grid
    return None

