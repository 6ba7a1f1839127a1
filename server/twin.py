"""``Twin``: everything one server process holds (storage, districts, scenarios, the live hub and the
simulation service); routes reach it as ``request.app.state.twin`` through :mod:`server.api.deps`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import protocol as p
from geodata.district import District
from server.districts import DistrictCatalog
from server.engines import available_engines
from server.hub import Connection, Hub, Outgoing
from server.roles import RateLimiter
from server.scenario import ScenarioModel
from server.scenarios import ScenarioManager, applied_message, state_to_protocol
from server.service import SimulationService
from server.settings import Settings
from server.storage import EditRecord, Storage

__all__ = ["Twin"]

log = logging.getLogger("landtwin.twin")


class Twin:
    """Everything one server process holds; reached from routes as ``request.app.state.twin``."""

    def __init__(self, settings: Settings, *, districts: list[District] | None = None,
                 engines: list[str] | None = None, debounce_s: float = 0.15, kiosk_idle_s: float = 300.0) -> None:
        self.settings = settings
        self.storage = Storage(settings.db_url)
        self.districts = DistrictCatalog(settings.data)
        for d in districts or []:
            self.districts.register(d)
        self.manager = ScenarioManager(self.storage, self.districts)
        self.hub = Hub()
        self.engines = engines if engines is not None else available_engines()
        self.service = SimulationService(self.storage, self.hub.publish_threadsafe, arch=settings.arch,
                                         debounce_s=debounce_s, engines=self.engines)
        self.kiosk_idle_s = kiosk_idle_s
        self.anon_writes = RateLimiter(rate_per_s=0.5, burst=10)  # comments, votes, sandboxes per client
        self.manager.listeners.append(self._on_commit)

    # called in the committing thread, after the record is durable
    def _on_commit(self, m: ScenarioModel, rec: EditRecord) -> None:
        if rec.op == "reset":
            self.hub.publish_threadsafe(m.scenario_id, p.Reset(state_to_protocol(m)))
        else:
            self.hub.publish_threadsafe(m.scenario_id, applied_message(m, rec))
        self.request_results(m)

    def hours_for(self, scenario_id: str) -> tuple[int, ...]:
        room = self.hub.rooms.get(scenario_id, {})
        return tuple(sorted({c.hour for c in list(room.values()) if "heat" in c.layers} or {15}))

    def request_results(self, m: ScenarioModel, *, wait: bool = False) -> Any:
        self.service.start()  # idempotent; normally started by the lifespan
        district = self.districts.get(m.row.district)
        return self.service.request(m.scenario_id, m.version, district, list(m.interventions()),
                                    self.hours_for(m.scenario_id), wait=wait)

    def results(self, scenario_id: str) -> Any:
        """Results of the scenario's current version, computed now when missing (blocking)."""
        m = self.manager.model(scenario_id)
        return self.service.cached(scenario_id, m.version) or self.request_results(m, wait=True)

    def send_results(self, conn: Connection, district: District) -> None:
        """After a subscription: the newest results to this connection only, or compute them."""
        m = self.manager.model(conn.scenario_id)
        res = self.service.cached(conn.scenario_id, m.version)
        if res is None or (("heat" in conn.layers) and conn.hour not in res.hours):
            self.request_results(m)
            return
        loop = self.hub.loop
        for f in res.frames():
            full = f[1] if isinstance(f, tuple) else f
            if conn.wants(full) and loop is not None:
                loop.call_soon_threadsafe(self.hub.send, conn, p.frame_key(full), Outgoing(full))

    async def kiosk_reset_loop(self) -> None:
        """Reset kiosk sandboxes that nobody touched for ``kiosk_idle_s`` seconds."""
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
                except Exception:  # noqa: BLE001 - one bad sandbox must not stop the loop
                    log.exception("kiosk reset of %s failed", sid)
                self.hub.last_activity.pop(sid, None)

    def close(self) -> None:
        self.service.stop()
        self.storage.dispose()
