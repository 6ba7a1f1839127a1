"""Runs inside the AequilibraE peer venv (.peers/aequilibrae): reads a network and an OD matrix from an
npz file, assigns with AequilibraE's bi-conjugate Frank-Wolfe and prints one JSON line.

Usage: python _aequilibrae_runner.py IN.npz RGAP MAX_ITER
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from aequilibrae.matrix import AequilibraeMatrix
from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass


def main() -> None:
    data = np.load(sys.argv[1])
    rgap, max_iter = float(sys.argv[2]), int(sys.argv[3])
    z = int(data["n_zones"])
    n_links = data["link_from"].size
    df = pd.DataFrame(
        {
            "link_id": np.arange(1, n_links + 1),
            "a_node": data["link_from"] + 1,
            "b_node": data["link_to"] + 1,
            "direction": np.ones(n_links, dtype=np.int8),
            "free_flow_time": data["fft"],
            "capacity": data["capacity"],
            "alpha": data["alpha"],
            "beta": data["beta"],
        }
    )
    t_setup = time.perf_counter()
    g = Graph()
    g.network = df
    g.prepare_graph(np.arange(1, z + 1), remove_dead_ends=False)
    g.set_graph("free_flow_time")
    g.set_skimming(["free_flow_time"])
    g.set_blocked_centroid_flows(bool(data["blocked_centroids"]))
    m = AequilibraeMatrix()
    m.create_empty(zones=z, matrix_names=["car"], memory_only=True)
    m.index[:] = np.arange(1, z + 1)
    m.matrices[:, :, 0] = data["od"]
    m.computational_view(["car"])
    tc = TrafficClass("car", g, m)
    ta = TrafficAssignment()
    ta.set_classes([tc])
    ta.set_vdf("BPR")
    ta.set_vdf_parameters({"alpha": "alpha", "beta": "beta"})
    ta.set_capacity_field("capacity")
    ta.set_time_field("free_flow_time")
    ta.set_algorithm("bfw")
    ta.set_cores(int(data["cores"]))
    ta.max_iter = max_iter
    ta.rgap_target = rgap
    setup_s = time.perf_counter() - t_setup
    t0, c0 = time.perf_counter(), time.process_time()
    ta.execute()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rep = ta.report()
    loads = tc.results.get_load_results()  # indexed by link_id
    col = [c for c in loads.columns if c.endswith("_tot")][0]
    by_id = np.zeros(n_links)
    by_id[loads.index.values.astype(np.int64) - 1] = loads[col].values
    fft, cap, a, b = data["fft"], data["capacity"], data["alpha"], data["beta"]
    tstt = float(np.sum(by_id * fft * (1 + a * (by_id / cap) ** b)))
    print(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "setup_s": setup_s,
                "iterations": int(rep["iteration"].max()),
                "rgap": float(rep["rgap"].iloc[-1]),
                "gaps": [float(x) for x in rep["rgap"]],
                "tstt": tstt,
                "flows": by_id.tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
