"""landtwin's 5R1C building model side by side with RC_BuildingSimulator (ISO 13790, package rcbsim).

One zone (200 m2 floor, 600 m3, medium capacity 165 kJ/m2K, 36 m2 windows U 2.7, opaque envelope
U 1.0 / 0.8) under three design hot days with 800 W internal and up to 2.5 kW solar gains, cooled to
26 degrees C. Both get the same conductances, capacity, gains and set-point; printed: daily cooling
energy of each, the largest hourly difference of cooling power and of indoor air temperature, and the
wall time of landtwin for 1,000 buildings x 24 hours (vectorised over buildings). The peer runs in its own venv (``benchmarks/peers/setup.sh rcbsim``).

Usage: .venv/bin/python benchmarks/building_energy_vs_rcbsim.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PEER = ROOT / ".peers" / "rcbsim" / "bin" / "python"


def main() -> None:
    from geodata.weather import design_hot_day
    from models.heat.building_energy import Envelope, rc5_hourly

    if not PEER.exists():
        raise SystemExit("peer missing: bash benchmarks/peers/setup.sh rcbsim")
    a_f = 200.0
    one = lambda v: np.array([v], float)  # noqa: E731
    env = Envelope(floor_area_m2=one(a_f), volume_m3=one(600.0), wall_area_m2=np.array([[40.0, 40.0, 40.0, 40.0]]),
                   window_area_m2=np.array([[8.0, 8.0, 12.0, 8.0]]), roof_area_m2=one(100.0), u_wall=one(1.0),
                   u_window=one(2.7), u_roof=one(0.8), g_window=one(0.42), air_changes_per_h=one(0.6),
                   heat_capacity_j_m2k=one(165000.0), cooled=np.array([True]))
    te = np.tile(design_hot_day().air_temp_c, 3)[:, None]
    hours = np.arange(len(te)) % 24
    qi = np.full_like(te, 800.0)
    qs = (np.clip(np.sin((hours - 6) / 14 * np.pi), 0, None) * 2500.0)[:, None]
    t0 = time.perf_counter()
    mine = rc5_hourly(env, te, qi, qs, mass_start_c=24.0)
    k = env.conductances()
    zone = dict(window_area=float(env.window_area_m2.sum()), walls_area=float(k["h_em"][0]), u_walls=1.0,
                u_windows=2.7, floor_area=a_f, room_vol=600.0, total_internal_area=float(k["a_t"][0]), ach_vent=0.0,
                ach_infl=0.6, ventilation_efficiency=0.0, thermal_capacitance_per_floor_area=165000.0,
                t_set_heating=-100.0, t_set_cooling=26.0)
    case = dict(zone=zone, t_out=te[:, 0].tolist(), internal_w=qi[:, 0].tolist(), solar_w=qs[:, 0].tolist(),
                t_m_start=24.0, repeats=0)
    out = subprocess.run([str(PEER), str(ROOT / "benchmarks" / "peers" / "rcbsim_runner.py")], input=json.dumps(case),
                         capture_output=True, text=True, check=True)
    peer = json.loads(out.stdout)
    pc, pa = np.array(peer["cooling_w"]), np.array(peer["air_c"])
    print("5R1C (ISO 13790) vs RC_BuildingSimulator, one zone, three design hot days")
    for d in range(3):
        s = slice(24 * d, 24 * d + 24)
        print(f"  day {d + 1}: cooling landtwin {mine.cooling_w[s, 0].sum() / 1000:.3f} kWh  "
              f"peer {pc[s].sum() / 1000:.3f} kWh")
    print(f"  largest hourly difference: cooling {np.abs(mine.cooling_w[:, 0] - pc).max():.2e} W, "
          f"indoor air {np.abs(mine.air_c[:, 0] - pa).max():.2e} K")
    n = 1000
    big = Envelope(**{f: np.repeat(getattr(env, f), n, axis=0) for f in env.__dataclass_fields__})
    t0 = time.perf_counter()
    rc5_hourly(big, te[:24], qi[:24], qs[:24], spin_up_repeats=0)
    ours_s = time.perf_counter() - t0
    print(f"  landtwin, {n} buildings x 24 h at once: {ours_s:.3f} s")

if __name__ == "__main__":
    main()
