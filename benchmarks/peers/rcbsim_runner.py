"""Run RC_BuildingSimulator (rcbsim, ISO 13790 5R1C) on a JSON case; run with the peer's own Python.

Input (stdin): {"zone": {Zone keyword arguments}, "t_out": [...], "internal_w": [...], "solar_w": [...],
"t_m_start": float, "repeats": int}. Output (stdout): {"cooling_w": [...], "air_c": [...], "mass_c": [...]}
of the last pass (cooling as a positive power)."""

import json
import sys

from rcbsim.building_physics import Zone


def main() -> None:
    case = json.load(sys.stdin)
    zone = Zone(**case["zone"])
    t_m = float(case["t_m_start"])
    out = {"cooling_w": [], "air_c": [], "mass_c": []}
    for rep in range(int(case["repeats"]) + 1):
        for te, qi, qs in zip(case["t_out"], case["internal_w"], case["solar_w"]):
            zone.solve_energy(qi, qs, te, t_m)
            t_m = zone.t_m_next
            if rep == int(case["repeats"]):
                out["cooling_w"].append(-float(zone.energy_demand) if zone.energy_demand < 0 else 0.0)
                out["air_c"].append(float(zone.t_air))
                out["mass_c"].append(float(t_m))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
