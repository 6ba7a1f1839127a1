"""Buildings' cooling demand: the hourly resistance-capacitance model of ISO 13790 (5R1C), driven by
the twin's air temperature next to each building and by sunlight on its walls and roof as the twin's
buildings and trees shade them.

Per building (a single thermal zone), with floor area A_f, the nodes air, surface (star) and mass:

    H_ve = rho c q_ve,  H_tr,w = U_w A_w,  H_tr,is = 3.45 A_t (A_t = 4.5 A_f),  H_tr,ms = 9.1 A_m (A_m = 2.5 A_f),
    H_tr,em = 1 / (1 / H_tr,op - 1 / H_tr,ms),  C_m = c_m A_f
    gains: phi_ia = phi_int / 2,  phi_m = A_m / A_t (phi_int / 2 + phi_sol),
           phi_st = (1 - A_m / A_t - H_tr,w / (9.1 A_t)) (phi_int / 2 + phi_sol)

and the Crank-Nicolson step of the mass temperature of ISO 13790 Annex C. The cooling need at a
set-point is found as the standard prescribes: the free-floating air temperature, and the one with
10 W/m2 of cooling, give the unrestricted need by linear interpolation (unlimited capacity).

Sunlight: each facade orientation (N, E, S, W) receives the direct beam times the sunlit fraction of
the open cells right in front of it (so a tree or a building opposite shades it) times the cosine of
incidence, half the diffuse sky light and half the light reflected by the ground; the roof the direct
beam times the sunlit fraction of its cells plus the diffuse light. Windows let g F_F of it in; opaque
walls and roofs add alpha R_se U A I minus their long-wave loss to the sky (ISO 13790, 11.3). A roof
absorbs (1 - albedo) of its class, less the evaporative fraction (a green roof spends it on
evaporation). Units: W, W/K, J/K, degrees C; energy in kWh.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["Envelope", "envelope_table", "envelopes", "Rc5Result", "rc5_hourly", "facade_cells",
           "solar_gains_w", "ORIENTATIONS"]

ORIENTATIONS = (0.0, 90.0, 180.0, 270.0)  # outward normal azimuth of the facades N, E, S, W
R_SE = 0.04  # external surface resistance, m2K/W (ISO 6946)
H_R = 4.5  # external radiative coefficient h_r = 5 eps, eps = 0.9, W/m2K (ISO 13790 11.4.6)
DT_SKY = 11.0  # mean difference of the external air and the apparent sky temperature, K (ISO 13790 11.4.6)
ALPHA_WALL = 0.6  # solar absorptance of a medium-coloured facade (ISO 13790 11.4.5 default)
RHO_C_AIR = 1200.0  # J/(m3 K)


@dataclass(frozen=True)
class Envelope:
    """Per building (n,) arrays; facade arrays are (n, 4) for N, E, S, W."""

    floor_area_m2: np.ndarray
    volume_m3: np.ndarray
    wall_area_m2: np.ndarray  # opaque wall, (n, 4)
    window_area_m2: np.ndarray  # (n, 4)
    roof_area_m2: np.ndarray
    u_wall: np.ndarray
    u_window: np.ndarray
    u_roof: np.ndarray
    g_window: np.ndarray  # g value times frame factor
    air_changes_per_h: np.ndarray
    heat_capacity_j_m2k: np.ndarray
    cooled: np.ndarray  # bool: counted in the cooling demand figures

    def conductances(self) -> dict[str, np.ndarray]:
        """The 5R1C conductances (W/K), capacity (J/K) and areas of ISO 13790 (n,)."""
        a_f = np.maximum(self.floor_area_m2, 1.0)
        opaque = self.wall_area_m2.sum(axis=1) + self.roof_area_m2
        # ISO 13790's medium class (A_m = 2.5 A_f, A_t = 4.5 A_f) assumes a building with more floor than
        # envelope; a slender tower has more opaque envelope than 2.5 A_f, whose inner faces are mass area
        # too. Without this, H_tr,op > H_ms gives a negative H_tr,em and an unsolvable network.
        a_m = np.maximum(2.5 * a_f, opaque)
        a_t = np.maximum(4.5 * a_f, 1.8 * a_m)
        h_ms = 9.1 * a_m
        h_op = self.u_wall * self.wall_area_m2.sum(axis=1) + self.u_roof * self.roof_area_m2
        h_em = 1.0 / (1.0 / np.maximum(h_op, 1e-6) - 1.0 / h_ms)
        # a building too small to hold a grid cell has no volume: a tiny ventilation conductance keeps the
        # network solvable (its floor area is taken as 1 m², so its demand stays negligible)
        return {"h_ve": np.maximum(RHO_C_AIR * self.volume_m3 * self.air_changes_per_h / 3600.0, 1e-6),
                "h_w": self.u_window * self.window_area_m2.sum(axis=1), "h_is": 3.45 * a_t, "h_ms": h_ms,
                "h_em": h_em, "c_m": self.heat_capacity_j_m2k * a_f, "a_m": a_m, "a_t": a_t, "a_f": a_f}


def envelope_table() -> dict[str, dict[str, float]]:
    """``assets/building_envelope.csv`` as use -> column -> value."""
    text = resources.files("assets").joinpath("building_envelope.csv").read_text(encoding="utf-8")
    return {r["use"]: {k: float(v) for k, v in r.items() if k not in ("use", "source")}
            for r in csv.DictReader(text.splitlines())}


def facade_cells(building_index: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per orientation N, E, S, W: (flat index of the open cell in front of a wall, building index)."""
    idx = np.asarray(building_index)
    rows, cols = idx.shape
    flat = np.arange(rows * cols).reshape(rows, cols)
    out = []
    for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):  # north is row - 1
        r0, r1 = max(0, -dr), rows - max(0, dr)
        c0, c1 = max(0, -dc), cols - max(0, dc)
        inner = idx[r0:r1, c0:c1]
        front = idx[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
        wall = (inner >= 0) & (front < 0)
        out.append((flat[r0 + dr:r1 + dr, c0 + dc:c1 + dc][wall], inner[wall].astype(np.int64)))
    return out


def envelopes(district, table: dict[str, dict[str, float]] | None = None) -> Envelope:
    """The envelope of every building of a District from its footprint cells, height, storeys and use."""
    t = table or envelope_table()
    b = district.buildings
    n = len(b.height_m)
    cell = float(district.grid.cell_m)
    idx = district.building_index
    foot = np.bincount(idx[idx >= 0].ravel(), minlength=n).astype(float) * cell * cell
    walls = np.zeros((n, 4))
    for o, (_, bi) in enumerate(facade_cells(idx)):
        walls[:, o] = np.bincount(bi, minlength=n) * cell
    height = np.asarray(b.height_m, float)
    col = {k: np.array([t.get(str(u), t["other"])[k] for u in b.use]) for k in t["residential"]}
    storeys = np.maximum(np.asarray(b.storeys, float), 1.0)
    facade = walls * height[:, None]
    windows = facade * col["window_share"][:, None]
    return Envelope(floor_area_m2=foot * storeys, volume_m3=foot * np.maximum(height, storeys * 2.5),
                    wall_area_m2=facade - windows, window_area_m2=windows, roof_area_m2=foot,
                    u_wall=col["u_wall_w_m2k"], u_window=col["u_window_w_m2k"], u_roof=col["u_roof_w_m2k"],
                    g_window=col["g_window"] * col["frame_factor"], air_changes_per_h=col["air_changes_per_h"],
                    heat_capacity_j_m2k=col["heat_capacity_j_m2k"], cooled=col["cooled"] > 0)


def solar_gains_w(env: Envelope, *, dni: np.ndarray, dhi: np.ndarray, elevation_deg: np.ndarray,
                  azimuth_deg: np.ndarray, facade_sunlit: np.ndarray, roof_sunlit: np.ndarray,
                  roof_absorptance: np.ndarray) -> np.ndarray:
    """Solar heat gains (T, n) W through windows and opaque walls and roof.

    facade_sunlit : (T, n, 4) sunlit fraction in front of each facade; roof_sunlit : (T, n);
    roof_absorptance : (n,) absorbed share of the roof's sunlight that heats it."""
    el = np.radians(np.maximum(elevation_deg, 0.0))[:, None]
    az = np.radians(np.asarray(azimuth_deg, float))[:, None]
    ghi = (dni[:, None] * np.sin(el) + dhi[:, None])
    gains = np.zeros((len(dni), len(env.floor_area_m2)))
    for o, normal in enumerate(ORIENTATIONS):
        cos_i = np.maximum(np.cos(el) * np.cos(az - np.radians(normal)), 0.0)
        i_f = dni[:, None] * cos_i * facade_sunlit[:, :, o] + 0.5 * dhi[:, None] + 0.5 * 0.2 * ghi
        gains += env.g_window * env.window_area_m2[:, o] * i_f
        gains += ALPHA_WALL * R_SE * env.u_wall * env.wall_area_m2[:, o] * i_f
    i_roof = dni[:, None] * np.sin(el) * roof_sunlit + dhi[:, None]
    gains += roof_absorptance * R_SE * env.u_roof * env.roof_area_m2 * i_roof
    sky = R_SE * H_R * DT_SKY * (0.5 * env.u_wall * env.wall_area_m2.sum(axis=1) + env.u_roof * env.roof_area_m2
                                 + 0.5 * env.u_window * env.window_area_m2.sum(axis=1))
    return gains - sky


@dataclass
class Rc5Result:
    cooling_w: np.ndarray  # (T, n) cooling power (>= 0) needed to hold the set-point
    air_c: np.ndarray  # (T, n) indoor air temperature
    mass_c: np.ndarray  # (T, n) mass temperature at the end of each hour


def rc5_hourly(env: Envelope, outdoor_c: np.ndarray, internal_w: np.ndarray, solar_w: np.ndarray, *,
               cooling_setpoint_c: float = 26.0, mass_start_c: np.ndarray | float | None = None,
               spin_up_repeats: int = 0) -> Rc5Result:
    """Hourly 5R1C (ISO 13790 Annex C) of all buildings at once, one-hour steps.

    outdoor_c, internal_w, solar_w : (T, n) (or (T, 1), broadcast). The forcing is repeated
    ``spin_up_repeats`` times before the recorded pass (a periodic design day); the mass starts at
    ``mass_start_c`` (default: the mean outdoor temperature)."""
    k = env.conductances()
    te = np.asarray(outdoor_c, float)
    n = len(env.floor_area_m2)
    te = np.broadcast_to(te, (te.shape[0], n))
    qi = np.broadcast_to(np.asarray(internal_w, float), te.shape)
    qs = np.broadcast_to(np.asarray(solar_w, float), te.shape)
    h_ve, h_w, h_is, h_ms, h_em, c_m = k["h_ve"], k["h_w"], k["h_is"], k["h_ms"], k["h_em"], k["c_m"]
    h1 = 1.0 / (1.0 / h_ve + 1.0 / h_is)
    h2 = h1 + h_w
    h3 = 1.0 / (1.0 / h2 + 1.0 / h_ms)
    am_at = k["a_m"] / k["a_t"]
    st_share = 1.0 - am_at - h_w / (9.1 * k["a_t"])
    c_h = c_m / 3600.0
    tm = np.full(n, float(te.mean())) if mass_start_c is None else np.broadcast_to(np.asarray(mass_start_c, float), (n,)).copy()

    def step(tm_prev, t_e, phi_ia, phi_st, phi_m, phi_hc):
        t_sup = t_e
        phi_mtot = phi_m + h_em * t_e + h3 * (phi_st + h_w * t_e + h1 * ((phi_ia + phi_hc) / h_ve + t_sup)) / h2
        tm_next = (tm_prev * (c_h - 0.5 * (h3 + h_em)) + phi_mtot) / (c_h + 0.5 * (h3 + h_em))
        t_m = 0.5 * (tm_next + tm_prev)
        t_s = (h_ms * t_m + phi_st + h_w * t_e + h1 * (t_sup + (phi_ia + phi_hc) / h_ve)) / (h_ms + h_w + h1)
        t_air = (h_is * t_s + h_ve * t_sup + phi_ia + phi_hc) / (h_is + h_ve)
        return tm_next, t_air

    steps = te.shape[0]
    cool = np.zeros(te.shape)
    air = np.zeros(te.shape)
    mass = np.zeros(te.shape)
    for rep in range(spin_up_repeats + 1):
        for t in range(steps):
            base = 0.5 * qi[t] + qs[t]
            phi_ia, phi_st, phi_m = 0.5 * qi[t], st_share * base, am_at * base
            tm0, air0 = step(tm, te[t], phi_ia, phi_st, phi_m, 0.0)
            phi10 = -10.0 * k["a_f"]
            _, air10 = step(tm, te[t], phi_ia, phi_st, phi_m, phi10)
            need = air0 > cooling_setpoint_c
            phi = np.where(need, phi10 * (cooling_setpoint_c - air0) / np.where(need, air10 - air0, 1.0), 0.0)
            tm_new, air_t = step(tm, te[t], phi_ia, phi_st, phi_m, phi)
            if rep == spin_up_repeats:
                cool[t], air[t], mass[t] = np.maximum(-phi, 0.0), air_t, tm_new
            tm = tm_new
    return Rc5Result(cooling_w=cool, air_c=air, mass_c=mass)
