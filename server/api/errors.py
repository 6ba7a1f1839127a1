"""Error responses: every refusal is JSON ``{"error", "message_de", "message_en"}`` with a fitting status.

:func:`install_error_handlers` also installs the request body limit (:class:`BodyLimit`,
:data:`MAX_BODY_BYTES`): a larger body is refused with 413 before any route sees it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from geodata.interventions import InterventionError
from server.api.schemas import ErrorOut
from server.districts import DistrictMissing
from server.roles import Denied
from server.scenario import EditRefused
from server.scenarios import NotFound, entry_to_protocol

__all__ = ["install_error_handlers", "error_response", "ERROR_RESPONSES", "BodyLimit", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 1 << 20  # 1 MiB


class BodyLimit:
    """ASGI middleware: HTTP request bodies up to ``max_bytes`` (by Content-Length, and counted while
    read for chunked bodies), else 413 with a bilingual message; the route never runs then."""

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send: Any) -> None:
        mib = self.max_bytes / (1 << 20)
        body = json.dumps({"error": "too_large", "message_de": f"Anfrage zu groß (höchstens {mib:g} MiB)",
                           "message_en": f"Request too large (at most {mib:g} MiB)", "current": None}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    too_large = int(v) > self.max_bytes
                except ValueError:
                    too_large = True
                if too_large:
                    await self._refuse(send)
                    return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:  # read the whole (bounded) body first, then hand it on
            msg = await receive()
            if msg["type"] != "http.request":
                break
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = msg.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def error_response(status: int, code: str, de: str, en: str, current: Any = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message_de": de, "message_en": en, "current": current})


def install_error_handlers(app: FastAPI) -> None:
    import msgspec

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.exception_handler(Denied)
    async def _denied(_: Request, exc: Denied) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.de, exc.en)

    @app.exception_handler(NotFound)
    async def _nf(_: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, "not_found", exc.de, exc.en)

    @app.exception_handler(DistrictMissing)
    async def _dm(_: Request, exc: DistrictMissing) -> JSONResponse:
        return error_response(404, "not_found", exc.de, exc.en)

    @app.exception_handler(EditRefused)
    async def _refused(_: Request, exc: EditRefused) -> JSONResponse:
        cur = msgspec.to_builtins(entry_to_protocol(exc.current)) if exc.current else None
        status = 409 if exc.code in ("conflict", "exists", "busy") else 422
        return error_response(status, exc.code, exc.de, exc.en, cur)

    @app.exception_handler(InterventionError)
    async def _invalid(_: Request, exc: InterventionError) -> JSONResponse:
        return error_response(422, "invalid", exc.de, exc.en)

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        texts = {
            400: ("Die Anfrage ist nicht lesbar (kein gültiges JSON?)", "The request cannot be read (not valid JSON?)"),
            404: ("Nicht gefunden", "Not found"),
            405: ("Diese Methode ist hier nicht erlaubt", "Method not allowed here"),
        }
        de, en = texts.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        return JSONResponse(status_code=exc.status_code, headers=getattr(exc, "headers", None),
                            content={"error": "http_" + str(exc.status_code), "message_de": de, "message_en": en, "current": None})

    from server.worker import Cancelled, WorkerFailed

    @app.exception_handler(TimeoutError)
    async def _timeout(_: Request, exc: TimeoutError) -> JSONResponse:
        return error_response(503, "not_ready", "Die Ergebnisse sind noch nicht fertig, bitte später erneut",
                              "The results are not ready yet, please retry later")

    @app.exception_handler(Cancelled)
    async def _cancelled(_: Request, exc: Cancelled) -> JSONResponse:
        return error_response(503, "not_ready", "Die Berechnung wurde von einer neueren abgelöst, bitte erneut abrufen",
                              "The computation was superseded by a newer one, please ask again")

    @app.exception_handler(WorkerFailed)
    async def _worker(_: Request, exc: WorkerFailed) -> JSONResponse:
        return error_response(503, "simulation_failed", f"Die Simulation ist fehlgeschlagen: {exc}",
                              f"The simulation failed: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{loc}: {e.get('msg', '')}")
        detail = "; ".join(parts)
        return error_response(422, "invalid", f"Ungültige Anfrage: {detail}", f"Invalid request: {detail}")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unreadable request body / Anfrage nicht lesbar", "model": ErrorOut},
    401: {"description": "Unknown or missing token / Zugangsschlüssel fehlt", "model": ErrorOut},
    403: {"description": "Not allowed for this role / für diese Rolle nicht erlaubt", "model": ErrorOut},
    404: {"description": "Not found / nicht gefunden", "model": ErrorOut},
    409: {"description": "Version conflict / Versionskonflikt", "model": ErrorOut},
    422: {"description": "Invalid input / ungültige Eingabe", "model": ErrorOut},
    413: {"description": "Too large / zu groß", "model": ErrorOut},
    429: {"description": "Rate limited or over budget / zu viele Anfragen", "model": ErrorOut},
    503: {"description": "Simulation failed / Simulation fehlgeschlagen", "model": ErrorOut},
}
