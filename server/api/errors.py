"""Error responses: every refusal is JSON ``{"error", "message_de", "message_en"}`` with a fitting status."""

from __future__ import annotations

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

__all__ = ["install_error_handlers", "error_response", "ERROR_RESPONSES"]


def error_response(status: int, code: str, de: str, en: str, current: Any = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message_de": de, "message_en": en, "current": current})


def install_error_handlers(app: FastAPI) -> None:
    import msgspec

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

    from server.worker import WorkerFailed

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
    429: {"description": "Rate limited / zu viele Anfragen", "model": ErrorOut},
    503: {"description": "Simulation failed / Simulation fehlgeschlagen", "model": ErrorOut},
}
