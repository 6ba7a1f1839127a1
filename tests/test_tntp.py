"""The TNTP reader: real Sioux Falls files and malformed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data

from geodata.tntp import TntpError, read_flows, read_net, read_nodes, read_trips


def test_sioux_falls_net_and_trips() -> None:
    net = read_net(shared_data("tntp_siouxfalls", "SiouxFalls_net.tntp"))
    assert (net.n_nodes, net.n_zones, len(net), net.first_thru_node) == (24, 24, 76, 0)
    assert net.link_from[0] == 0 and net.link_to[0] == 1
    assert net.capacity_veh_h[0] == pytest.approx(25900.20064)
    assert net.free_flow_time_min[0] == 6.0 and net.bpr_alpha[0] == 0.15 and net.bpr_beta[0] == 4.0
    od = read_trips(shared_data("tntp_siouxfalls", "SiouxFalls_trips.tntp"), net.n_zones)
    assert od.shape == (24, 24) and od.sum() == pytest.approx(360600.0)
    assert od[0, 1] == 100.0 and od[0, 9] == 1300.0 and od[0, 0] == 0.0


def test_sioux_falls_flows_and_nodes() -> None:
    a, b, vol, cost = read_flows(shared_data("tntp_siouxfalls", "SiouxFalls_flow.tntp"))
    assert a.shape == (76,) and a[0] == 0 and b[0] == 1
    assert float(vol @ cost) == pytest.approx(7480225.3, rel=1e-7)
    xy = read_nodes(shared_data("tntp_siouxfalls", "SiouxFalls_node.tntp"))
    assert xy.shape == (24, 2) and np.isfinite(xy).all()


NET_HEAD = "<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 3\n<FIRST THRU NODE> 3\n<NUMBER OF LINKS> {n}\n<END OF METADATA>\n~ a b\n"


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_first_thru_node_is_zero_based(tmp_path) -> None:
    p = _write(
        tmp_path,
        "n.tntp",
        NET_HEAD.format(n=2) + "\t1\t3\t100\t1\t2\t0.15\t4\t;\n\t3\t2\t100\t1\t2\t0.15\t4\t;\n",
    )
    net = read_net(p)
    assert net.first_thru_node == 2 and net.link_to.tolist() == [2, 1]


@pytest.mark.parametrize(
    "body, needle",
    [
        ("\t1\t9\t100\t1\t2\t0.15\t4\t;\n", "1..3"),
        ("\t1\t3\t-5\t1\t2\t0.15\t4\t;\n", "capacity"),
        ("\t1\t3\tabc\t1\t2\t0.15\t4\t;\n", "not a number"),
        ("\t1\t3\t100\t1\t;\n", "fewer than 7"),
    ],
)
def test_bad_net_gets_clear_error(tmp_path, body, needle) -> None:
    p = _write(tmp_path, "n.tntp", NET_HEAD.format(n=1) + body)
    with pytest.raises(TntpError, match=needle):
        read_net(p)


def test_bad_trips_and_missing_file(tmp_path) -> None:
    with pytest.raises(TntpError, match="not found"):
        read_net(tmp_path / "nope.tntp")
    p = _write(tmp_path, "t.tntp", "<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 5 : 3.0;\n")
    with pytest.raises(TntpError, match="zone outside"):
        read_trips(p)
    p = _write(
        tmp_path,
        "t2.tntp",
        "<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 9\n<END OF METADATA>\nOrigin 1\n 2 : 3.0;\n",
    )
    with pytest.raises(TntpError, match="differs"):
        read_trips(p)
    with pytest.raises(TntpError, match="zones"):
        read_trips(_write(tmp_path, "t3.tntp", "<NUMBER OF ZONES> 2\n<END OF METADATA>\n"), n_zones=3)
