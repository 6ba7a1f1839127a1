"""Benchmark: the optimiser's best placement of 200 trees against 200 trees along the hottest streets,
both measured with the full heat model on the sample district: the cooling of the residents under
strong heat stress (person-K of UTCI at 15:00), the cost, and the search time.

Run: ``.venv/bin/python benchmarks/greening_vs_rule.py [--arch cpu|cuda] [--size-km 2] [--trees 200]
[--trials 30] [--seed 0] [--out DIR]`` (``--out`` keeps both scenario drafts).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geodata.sample import build_sample_district  # noqa: E402
from models.batch.evaluate import EvalConfig  # noqa: E402
from models.batch.greening import optimise_greening  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="cpu", help="Taichi backend: cpu or cuda")
    ap.add_argument("--size-km", type=float, default=2.0)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    d = build_sample_district(size_km=args.size_km, name="bench")
    t0 = time.perf_counter()
    best, rule = optimise_greening(d, args.trees, trials=args.trials, seed=args.seed, config=EvalConfig(arch=args.arch),
                                   on_trial=lambda i, v: print(f"  trial {i}: {v:.1f} person-K", flush=True))
    secs = time.perf_counter() - t0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "optimised.json").write_text(json.dumps(best.to_json(), ensure_ascii=False, indent=1))
        (args.out / "rule.json").write_text(json.dumps(rule.to_json(), ensure_ascii=False, indent=1))
    k = "heat_stressed_cooling_person_k"
    result = {"arch": args.arch, "size_km": args.size_km, "trees": len(best.trees), "trials": args.trials,
              "search_s": round(secs, 1), "cost_eur": best.kpis["cost_eur"],
              "stressed_residents": best.kpis["heat_stressed_residents"],
              "optimised_cooling_person_k": round(best.kpis[k], 2), "rule_cooling_person_k": round(rule.kpis[k], 2),
              "ratio": round(best.kpis[k] / rule.kpis[k], 3) if rule.kpis[k] > 0 else None,
              "optimised_utci_resident_weighted_diff_k": round(best.kpis["heat_utci_resident_weighted_c"]
                                                                - rule.kpis["heat_utci_resident_weighted_c"], 4),
              "optimised_weights": {f: round(w, 3) for f, w in best.weights.items()}}
    print(json.dumps(result, indent=1))
    print(f"{len(best.trees)} trees: optimiser {best.kpis[k]:.1f} vs rule {rule.kpis[k]:.1f} person-K cooling of "
          f"heat-stressed residents ({result['ratio']}x), search {secs:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
