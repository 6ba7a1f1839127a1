"""A small synchronous protocol client over the `websockets` library (tests and benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import connect

import protocol as p


class WsClient:
    def __init__(self, port: int, scenario_id: str, *, token: str = "", role: str = "citizen", name: str = "",
                 protocol: int = p.PROTOCOL_VERSION) -> None:
        self._cm = connect(f"ws://127.0.0.1:{port}/ws/scenarios/{scenario_id}", max_size=1 << 24, open_timeout=20)
        self.ws = self._cm.__enter__()
        self.ws.send(p.encode(p.Hello(protocol=protocol, role=role, token=token, name=name)))  # type: ignore[arg-type]
        self.seen: list[Any] = []
        self.welcome = self.recv(timeout=20)
        self._rid = 0

    def send(self, msg: Any) -> None:
        self.ws.send(p.encode(msg))

    def next_id(self) -> int:
        self._rid += 1
        return self._rid

    def recv(self, timeout: float = 10.0) -> Any:
        msg = p.decode_server(self.ws.recv(timeout=timeout))
        self.seen.append(msg)
        return msg

    def until(self, pred: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("expected message did not arrive")
            msg = self.recv(timeout=left)
            if pred(msg):
                return msg

    def close(self) -> None:
        self._cm.__exit__(None, None, None)
