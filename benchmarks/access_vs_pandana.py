"""Benchmark: nearest-facility travel times on the same walking graph, landtwin's kernel against pandana.

Run: ``benchmarks/peers/setup.sh pandana`` once, then
``.venv/bin/python benchmarks/access_vs_pandana.py [--size-km 10] [--arch cpu]``.

Both sides get the same graph (the walking graph of the generated district, edge weights = walking
seconds, both directions) and the same facilities per service category, placed on graph nodes. landtwin
computes the time from every node to the nearest facility of each category (one multi-source kernel
call); pandana builds its contraction hierarchy and answers ``nearest_pois`` per category. Prints both
wall times, their ratio, and the largest difference of the times (they must agree).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from access_districts import ROOT, district  # noqa: E402

from geodata.apply_transit import apply_transit  # noqa: E402
from models.people.access import CATEGORIES, AccessEngine  # noqa: E402
from models.people.access_network import snap  # noqa: E402
from sim_kernels.access import multi_source_times  # noqa: E402

MAX_S = 7200.0

PEER = r'''
import sys, time, json
import numpy as np, pandas as pd
import pandana
z = np.load(sys.argv[1], allow_pickle=False)
t0 = time.perf_counter()
nodes = pd.Index(np.arange(z["x"].size), name="id")
net = pandana.Network(pd.Series(z["x"], index=nodes), pd.Series(z["y"], index=nodes),
                      pd.Series(z["a"]), pd.Series(z["b"]), pd.DataFrame({"t": z["w"]}), twoway=True)
t1 = time.perf_counter()
cats = [str(c) for c in z["cats"]]
out = np.full((len(cats), z["x"].size), np.inf)
for c, name in enumerate(cats):
    ix = z["poi_" + str(c)]
    if ix.size == 0:
        continue
    net.set_pois(category=name, maxdist=float(z["maxdist"]), maxitems=1, x_col=pd.Series(z["x"][ix]),
                 y_col=pd.Series(z["y"][ix]))
    res = net.nearest_pois(float(z["maxdist"]), name, num_pois=1)
    out[c] = res[1].reindex(nodes).to_numpy()
t2 = time.perf_counter()
np.save(sys.argv[2], out)
print(json.dumps({"build_s": t1 - t0, "query_s": t2 - t1, "version": pandana.__version__}))
'''


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-km", type=float, default=10.0)
    ap.add_argument("--arch", default=None)
    args = ap.parse_args(argv)
    py = ROOT / ".peers" / "pandana" / "bin" / "python"
    if not py.exists():
        print("pandana peer missing: run benchmarks/peers/setup.sh pandana", file=sys.stderr)
        return 2
    d, _ = district(args.size_km, cell_m=10.0 if args.size_km > 3 else 2.0,
                    residents=180_000 if args.size_km >= 10 else None)
    eng = AccessEngine(d, seed=0, arch=args.arch)
    g = eng.walk
    net, services = apply_transit(d, eng.base_network, [])
    points = eng._source_points(net, services)
    start = np.full((len(CATEGORIES), g.n_nodes), np.inf, np.float32)
    poi_nodes = {}
    for c, name in enumerate(CATEGORIES):
        node, _ = snap(points[name], g.node_xy, eng._usable)
        poi_nodes[c] = np.unique(node[node >= 0])
        start[c, poi_nodes[c]] = 0.0
    s, dd, w = g.reversed()
    multi_source_times(s, dd, w, start)  # compile
    t0 = time.perf_counter()
    ours, sweeps = multi_source_times(s, dd, w, start)
    t_ours = time.perf_counter() - t0
    # one direction per undirected edge for pandana (the walk graph lists both)
    half = g.src.size // 2
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.npz"
        np.savez(inp, x=g.node_xy[:, 0], y=g.node_xy[:, 1], a=g.src[:half], b=g.dst[:half], w=g.cost_s[:half],
                 cats=np.array(CATEGORIES), maxdist=MAX_S, **{f"poi_{c}": v for c, v in poi_nodes.items()})
        script = Path(tmp) / "peer.py"
        script.write_text(PEER)
        t0 = time.perf_counter()
        r = subprocess.run([str(py), str(script), str(inp), str(Path(tmp) / "out.npy")], capture_output=True, text=True)
        t_wall = time.perf_counter() - t0
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return 1
        import json

        info = json.loads(r.stdout.strip().splitlines()[-1])
        theirs = np.load(Path(tmp) / "out.npy")
    ok = np.isfinite(ours) & (ours < MAX_S) & (start.min(axis=1, keepdims=True) == 0)
    diff = float(np.max(np.abs(ours[ok] - theirs[ok]))) if ok.any() else float("nan")
    print(f"graph: {g.n_nodes} nodes, {half} undirected walking edges; {len(CATEGORIES)} categories, "
          f"{sum(v.size for v in poi_nodes.values())} facility nodes; {d.residents_total} residents")
    print(f"landtwin kernel (Taichi {args.arch or 'cpu'}): {t_ours:.4f} s ({sweeps} rounds)")
    print(f"pandana {info['version']}: network build {info['build_s']:.4f} s, nearest_pois {info['query_s']:.4f} s "
          f"(process wall {t_wall:.2f} s)")
    print(f"ratio landtwin / pandana query: {t_ours / info['query_s']:.3f}; "
          f"landtwin / pandana build+query: {t_ours / (info['build_s'] + info['query_s']):.3f}")
    print(f"max |difference| of nearest-facility times: {diff:.4f} s over {int(ok.sum())} node-category pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
