"""Run the real app over the tiny test district (for socket clients and kill tests).

    python tests/server_main.py DATA_DIR PORT [DB_URL]      serve in this process
    python tests/server_main.py --zygote DATA_DIR [DB_URL]  import once, then fork one server process
                                                             per line "start PORT" on stdin (prints its pid)

Engines from $LANDTWIN_TEST_ENGINES (default costs). The zygote makes SIGKILL-and-restart loops cheap:
each server is a fresh process (forked after the imports), killed for real.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn  # noqa: E402
from server_support import make_app, tiny_district  # noqa: E402


def serve(data: Path, port: int, db_url: str | None) -> None:
    engines = [e for e in os.environ.get("LANDTWIN_TEST_ENGINES", "costs").split(",") if e]
    app, _ = make_app(data, engines=engines, db_url=db_url,
                      debounce_s=float(os.environ.get("LANDTWIN_TEST_DEBOUNCE", "0.1")))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio", ws_max_size=1 << 20)


def zygote(data: Path, db_url: str | None) -> None:
    import importlib

    for mod in ("server.app", "server.session", "server.api.health", "server.api.districts", "server.api.scenarios",
                "server.api.interventions", "server.api.results", "server.api.comments", "server.api.errors",
                "uvicorn.protocols.http.httptools_impl", "uvicorn.protocols.http.h11_impl",
                "uvicorn.protocols.websockets.websockets_sansio_impl",
                "uvicorn.loops.uvloop", "uvicorn.lifespan.on", "geodata.apply_heat", "geodata.apply_roads",
                "geodata.apply_transit"):
        try:
            importlib.import_module(mod)  # imported once, before forking
        except ImportError:
            pass

    tiny_district()  # warms the builder's imports
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    for line in sys.stdin:
        cmd = line.split()
        if cmd[:1] != ["start"]:
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sys.stdin.close()
            serve(data, int(cmd[1]), db_url)
            os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
