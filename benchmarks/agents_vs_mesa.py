"""Benchmark: agent movement over a day, landtwin's Taichi kernel against a Mesa model of the same movement.

Run: ``benchmarks/peers/setup.sh mesa`` once, then
``.venv/bin/python benchmarks/agents_vs_mesa.py [--mesa-agents 10000] [--mesa-dt 600] [--arch cpu]``.

landtwin moves all 180,000 persons of the 10 × 10 km district through their day (home-based tours along
shortest-path trees, 60 s steps). The Mesa model (``mesa<3.4``, its own virtual environment) moves the
first ``--mesa-agents`` persons along the very same routes: each agent holds its route as timed
waypoints and interpolates its position every step. Both are checked to put the agents at the same
places; the figures are agent-steps per second and their ratio (also for landtwin on Mesa's subset).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from access_districts import ROOT, district  # noqa: E402

from models.people.access import AccessEngine  # noqa: E402

PEER = r'''
import bisect, json, sys, time
import numpy as np
import mesa

z = np.load(sys.argv[1], allow_pickle=False)

class Walker(mesa.Agent):
    def __init__(self, model, t, x, y):
        super().__init__(model)
        self.t, self.x, self.y = t, x, y
        self.pos_xy = (x[0], y[0])

    def step(self):
        t = self.model.clock
        k = bisect.bisect_right(self.t, t)
        if k == 0:
            self.pos_xy = (self.x[0], self.y[0])
        elif k >= len(self.t):
            self.pos_xy = (self.x[-1], self.y[-1])
        else:
            t0, t1 = self.t[k - 1], self.t[k]
            f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
            self.pos_xy = (self.x[k - 1] + f * (self.x[k] - self.x[k - 1]), self.y[k - 1] + f * (self.y[k] - self.y[k - 1]))

class Day(mesa.Model):
    def __init__(self, off, t, x, y, dt, seed=0):
        super().__init__(seed=seed)
        self.clock = 0.0
        self.dt = dt
        for a in range(off.size - 1):
            s, e = off[a], off[a + 1]
            Walker(self, t[s:e].tolist(), x[s:e].tolist(), y[s:e].tolist())

    def step(self):
        self.agents.do("step")
        self.clock += self.dt

off, t, x, y = z["off"], z["t"], z["x"], z["y"]
dt, steps = float(z["dt"]), int(z["steps"])
t0 = time.perf_counter()
m = Day(off, t, x, y, dt)
t1 = time.perf_counter()
probe = {}
for i in range(steps):
    if i in (int(z["probe_step"]),):
        m.agents.do("step")
        probe = np.array([a.pos_xy for a in m.agents])
        m.clock += dt
        continue
    m.step()
t2 = time.perf_counter()
np.save(sys.argv[2], probe)
print(json.dumps({"setup_s": t1 - t0, "run_s": t2 - t1, "version": mesa.__version__}))
'''


def waypoints(ag, agents: np.ndarray) -> tuple[np.ndarray, ...]:
    """Timed waypoints (t, x, y) of the given agents' days from the trees (the kernel's movement)."""
    net, tr = ag.net, ag.trips
    up0, g, xy = net["up"][:, 0, :], net["time_to_root_s"], net["node_xy"]
    first = tr["agent_first_trip"]
    ts, xs, ys, off = [], [], [], [0]
    for a in agents:
        home = int(tr["agent_home_node"][a])
        pts: list[tuple[float, float, float]] = [(0.0, xy[home, 0], xy[home, 1])]
        for r in range(first[a], first[a + 1]):
            tree, u, sc = int(tr["trip_tree"][r]), int(tr["trip_start_node"][r]), float(tr["trip_scale"][r])
            path = [u]
            while up0[tree, path[-1]] >= 0:
                path.append(int(up0[tree, path[-1]]))
            t0, dur = float(tr["trip_depart_s"][r]), float(g[tree, u]) * sc
            t_back = t0 + dur + float(tr["trip_dwell_s"][r])
            pts += [(t0 + dur - float(g[tree, v]) * sc, xy[v, 0], xy[v, 1]) for v in path]
            pts += [(t_back + float(g[tree, v]) * sc, xy[v, 0], xy[v, 1]) for v in reversed(path)]
        for t, x, y in pts:
            ts.append(t)
            xs.append(x)
            ys.append(y)
        off.append(len(ts))
    return np.asarray(off, np.int64), np.asarray(ts), np.asarray(xs), np.asarray(ys)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mesa-agents", type=int, default=10_000)
    ap.add_argument("--mesa-dt", type=float, default=600.0)
    ap.add_argument("--dt", type=float, default=60.0)
    ap.add_argument("--arch", default=None)
    args = ap.parse_args(argv)
    py = ROOT / ".peers" / "mesa" / "bin" / "python"
    if not py.exists():
        print("Mesa peer missing: run benchmarks/peers/setup.sh mesa", file=sys.stderr)
        return 2
    d, _ = district(10.0, cell_m=10.0, residents=180_000)
    eng = AccessEngine(d, seed=0, arch=args.arch)
    ag = eng.compute([]).agents
    steps = int(86400 / args.dt)
    ag.run_day(dt_s=3600.0)
    t0 = time.perf_counter()
    ag.run_day(dt_s=args.dt)
    t_all = time.perf_counter() - t0
    k = min(args.mesa_agents, len(ag))
    m_steps = int(86400 / args.mesa_dt)
    sub_trips = {key: v for key, v in ag.trips.items()}
    last = int(ag.trips["agent_first_trip"][k])
    for key in ("trip_tree", "trip_start_node", "trip_depart_s", "trip_dwell_s", "trip_scale", "trip_mode"):
        sub_trips[key] = ag.trips[key][:last]
    sub_trips["agent_first_trip"] = ag.trips["agent_first_trip"][: k + 1]
    sub_trips["agent_home_node"] = ag.trips["agent_home_node"][:k]
    from sim_kernels.agents import positions, run_day

    run_day(ag.net, sub_trips, t_start_s=0.0, dt_s=args.mesa_dt, n_steps=m_steps, n_links=ag.n_links, n_stops=ag.n_stops)
    t0 = time.perf_counter()
    run_day(ag.net, sub_trips, t_start_s=0.0, dt_s=args.mesa_dt, n_steps=m_steps, n_links=ag.n_links, n_stops=ag.n_stops)
    t_sub = time.perf_counter() - t0
    probe_step = int(8.25 * 3600 / args.mesa_dt)
    ours_probe, _ = positions(ag.net, sub_trips, probe_step * args.mesa_dt)
    off, ts, xs, ys = waypoints(ag, np.arange(k))
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.npz"
        np.savez(inp, off=off, t=ts, x=xs, y=ys, dt=args.mesa_dt, steps=m_steps, probe_step=probe_step)
        script = Path(tmp) / "peer.py"
        script.write_text(PEER)
        r = subprocess.run([str(py), str(script), str(inp), str(Path(tmp) / "probe.npy")], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return 1
        info = json.loads(r.stdout.strip().splitlines()[-1])
        theirs = np.load(Path(tmp) / "probe.npy")
    diff = float(np.max(np.hypot(*(ours_probe - theirs).T)))
    ours_rate = len(ag) * steps / t_all
    ours_sub = k * m_steps / t_sub
    mesa_rate = k * m_steps / info["run_s"]
    print(f"landtwin: {len(ag)} persons x {steps} steps of {args.dt:g} s: {t_all:.3f} s, {ours_rate:,.0f} agent-steps/s "
          f"(target 60 s, ratio {t_all / 60.0:.3f})")
    print(f"landtwin on Mesa's subset: {k} persons x {m_steps} steps: {t_sub:.4f} s, {ours_sub:,.0f} agent-steps/s")
    print(f"Mesa {info['version']}: {k} persons x {m_steps} steps: {info['run_s']:.3f} s (set-up {info['setup_s']:.2f} s), "
          f"{mesa_rate:,.0f} agent-steps/s")
    print(f"ratio agent-steps/s landtwin / Mesa: {ours_rate / mesa_rate:.1f} (full day), {ours_sub / mesa_rate:.1f} (same subset)")
    print(f"same movement: max position difference at {probe_step * args.mesa_dt / 3600:.2f} h = {diff:.4f} m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
