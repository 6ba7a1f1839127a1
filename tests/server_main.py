"""Run the real app over the tiny test district in this process (for socket clients and kill tests).

Usage: python tests/server_main.py DATA_DIR PORT [DB_URL]   (engines from $LANDTWIN_TEST_ENGINES, default costs)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn  # noqa: E402
from server_support import make_app  # noqa: E402


def main() -> None:
    data, port = Path(sys.argv[1]), int(sys.argv[2])
    db_url = sys.argv[3] if len(sys.argv) > 3 else None
    engines = [e for e in os.environ.get("LANDTWIN_TEST_ENGINES", "costs").split(",") if e]
    app, _ = make_app(data, engines=engines, db_url=db_url, debounce_s=float(os.environ.get("LANDTWIN_TEST_DEBOUNCE", "0.1")))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=1 << 20)


if __name__ == "__main__":
    main()
