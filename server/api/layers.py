"""Department layers: upload (GeoJSON, GeoPackage, GeoTIFF, CSV with coordinates or AGS keys), versions,
visibility, search, data and legends (rules in :mod:`server.layer_store`, checks in
:mod:`geodata.dept_layers`).

A refused upload answers 422 (or 413 over the size limit) with the reason in German and English and
stores nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from geodata.dept_layers import LIMITS, make_style, parse_upload, raster_preview_png
from geodata.sources import DataError
from server.api.deps import TwinDep, UserDep
from server.api.errors import ERROR_RESPONSES, error_response
from server.api.schemas import from_record
from server.layer_store import (
    LayerRow,
    LayerStore,
    LayerVersion,
    may_manage,
    may_see,
    may_upload,
    region_areas,
)
from server.roles import Denied, User

__all__ = ["router"]

router = APIRouter(tags=["layers"], responses=ERROR_RESPONSES)
LayerIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$", description="layer id")]


LayerVersionOut = from_record(LayerVersion, exclude=("layer_id",), name="LayerVersionOut",
                              doc="One stored version of a layer: its file, metadata, fields, extent and style.")


class LayerOut(BaseModel):
    """A layer with its newest (or requested) version's metadata, style and legend."""

    model_config = ConfigDict(extra="forbid")
    layer_id: str
    title: str
    department: str
    visibility: Literal["private", "departments", "public"]
    shared_with: list[str]
    kind: Literal["vector", "raster"]
    head_version: int
    created_utc: str
    updated_utc: str
    can_manage: bool
    current: LayerVersionOut


class LayerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    visibility: Literal["private", "departments", "public"] | None = None
    shared_with: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(default=None, max_length=50)


def _store(request: Request) -> LayerStore:
    """The app's layer store (created on first use over the server's database)."""
    store = getattr(request.app.state, "layer_store", None)
    if store is None:
        store = LayerStore(request.app.state.twin.storage)
        request.app.state.layer_store = store
    return store


StoreDep = Annotated[LayerStore, Depends(_store)]


def uploader(user: UserDep) -> User:
    """Planners and admins only (refused before the upload is read)."""
    if not may_upload(user):
        raise Denied("Ebenen laden nur Planerinnen, Planer und Admins hoch",
                     "Only planners and admins upload layers", status=403)
    return user


UploaderDep = Annotated[User, Depends(uploader)]


def _out(user: User, row: LayerRow, v: LayerVersion) -> LayerOut:
    d = dict(v.__dict__)
    d.pop("layer_id")
    return LayerOut(layer_id=row.layer_id, title=row.title, department=row.department, visibility=row.visibility,
                    shared_with=list(row.shared_with), kind=row.kind, head_version=row.head_version,
                    created_utc=row.created_utc, updated_utc=row.updated_utc, can_manage=may_manage(user, row),
                    current=LayerVersionOut(**d))


def _visible(store: LayerStore, user: User, layer_id: str) -> LayerRow:
    row = store.get(layer_id)
    if row is None or not may_see(user, row):  # never tell a stranger that a hidden layer exists
        raise Denied("Ebene nicht gefunden", "Layer not found", status=404, code="not_found")
    return row


def _shared(text: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    if len(items) > 50 or any(len(s) > 200 for s in items):
        raise DataError(None, "zu viele oder zu lange Abteilungsnamen", "too many or too long department names")
    return items


async def _read(file: UploadFile) -> bytes:
    data = await file.read(LIMITS.max_bytes + 1)
    if len(data) > LIMITS.max_bytes:
        raise DataError(file.filename, f"zu groß (> {LIMITS.max_bytes / 1e6:.0f} MB)",
                        f"too large (> {LIMITS.max_bytes / 1e6:.0f} MB)")
    return data


def _areas(twin: Any) -> Any:
    try:
        return region_areas(twin.settings)
    except DataError as exc:
        raise Denied(exc.de, exc.en, status=503, code="unavailable") from None


def _refused(exc: DataError) -> JSONResponse:
    status = 413 if "zu groß" in exc.de else 422
    return error_response(status, "too_large" if status == 413 else "invalid_file", str(exc).split(" / ")[0],
                          str(exc).split(" / ", 1)[-1])


Text200 = Annotated[str, Form(max_length=200)]
Text500 = Annotated[str, Form(max_length=500)]


@router.post("/layers", status_code=201, response_model=LayerOut,
             responses={413: {"description": "File too large / Datei zu groß"}},
             summary="Upload a department layer / Ebene hochladen")
async def upload_layer(
    request: Request, twin: TwinDep, user: UploaderDep, store: StoreDep,
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, GeoTIFF or CSV (lon/lat, x/y or ags)")],
    title: Annotated[str, Form(min_length=1, max_length=200)],
    source: Text500 = "", licence: Text200 = "", data_date: Annotated[str, Form(max_length=32)] = "",
    update_cycle: Text200 = "", description: Annotated[str, Form(max_length=4000)] = "",
    visibility: Annotated[Literal["private", "departments", "public"], Form()] = "private",
    shared_with: Annotated[str, Form(max_length=4000, description="departments, comma-separated")] = "",
    style_mode: Annotated[Literal["single", "categories", "classes"], Form()] = "single",
    style_field: Text200 = "", style_classes: Annotated[int, Form(ge=2, le=7)] = 5,
    gpkg_table: Annotated[str | None, Form(max_length=200)] = None,
    csv_epsg: Annotated[int, Form(ge=1024, le=999999)] = 25832,
) -> Any:
    areas = _areas(twin)
    try:
        raw = await _read(file)
        parsed = parse_upload(raw, file.filename or "upload", areas=areas,
                              gpkg_table=gpkg_table, csv_epsg=csv_epsg)
        style = make_style(parsed, mode=style_mode, field_name=style_field, n_classes=style_classes)
        shared = _shared(shared_with)
    except DataError as exc:
        return _refused(exc)
    meta = {"source": source, "licence": licence, "data_date": data_date, "update_cycle": update_cycle,
            "description": description}
    row = store.create(user, title=title, visibility=visibility, shared_with=shared, parsed=parsed, style=style,
                       raw=raw, meta=meta, filename=file.filename or "upload")
    v = store.version(row.layer_id, 1)
    assert v is not None
    return JSONResponse(status_code=201, content=_out(user, row, v).model_dump())


@router.post("/layers/{layer_id}/versions", status_code=201, response_model=LayerOut,
             summary="Upload a new version / neue Version hochladen")
async def upload_version(
    twin: TwinDep, user: UploaderDep, store: StoreDep, layer_id: LayerIdPath,
    file: Annotated[UploadFile, File()],
    source: Text500 = "", licence: Text200 = "", data_date: Annotated[str, Form(max_length=32)] = "",
    update_cycle: Text200 = "", description: Annotated[str, Form(max_length=4000)] = "",
    style_mode: Annotated[Literal["keep", "single", "categories", "classes"],
                          Form(description="keep: the style of the previous version")] = "keep",
    style_field: Text200 = "", style_classes: Annotated[int, Form(ge=2, le=7)] = 5,
    gpkg_table: Annotated[str | None, Form(max_length=200)] = None,
    csv_epsg: Annotated[int, Form(ge=1024, le=999999)] = 25832,
) -> Any:
    row = _visible(store, user, layer_id)
    if not may_manage(user, row):
        raise Denied("Neue Versionen lädt nur die Abteilung hoch, der die Ebene gehört",
                     "Only the department that owns the layer uploads new versions")
    prev = store.version(layer_id, row.head_version)
    assert prev is not None
    areas = _areas(twin)
    try:
        raw = await _read(file)
        parsed = parse_upload(raw, file.filename or "upload", areas=areas,
                              gpkg_table=gpkg_table, csv_epsg=csv_epsg)
        keep = style_mode == "keep"
        mode = prev.style.get("mode", "single") if keep else style_mode
        fld = style_field or prev.style.get("field", "")
        n = max(2, len(prev.style.get("entries", [])) or 5) if keep else style_classes
        style = make_style(parsed, mode=mode, field_name=fld, n_classes=min(n, 7))
    except DataError as exc:
        return _refused(exc)
    meta = {"source": source or prev.source, "licence": licence or prev.licence, "data_date": data_date,
            "update_cycle": update_cycle or prev.update_cycle, "description": description or prev.description}
    new = store.add_version(user, row, parsed=parsed, style=style, raw=raw, meta=meta,
                            filename=file.filename or "upload")
    row = store.get(layer_id)
    v = store.version(layer_id, new)
    assert row is not None and v is not None
    return JSONResponse(status_code=201, content=_out(user, row, v).model_dump())


@router.get("/layers", response_model=list[LayerOut], summary="Layers you may see / sichtbare Ebenen")
def list_layers(user: UserDep, store: StoreDep,
                q: Annotated[str, Query(max_length=100, description="search text")] = "",
                department: Annotated[str, Query(max_length=200)] = "") -> list[LayerOut]:
    return [_out(user, row, v) for row, v in store.search(user, query=q.strip(), department=department)]


@router.get("/layers/{layer_id}", response_model=LayerOut, summary="One layer / eine Ebene")
def get_layer(user: UserDep, store: StoreDep, layer_id: LayerIdPath,
              version: Annotated[int | None, Query(ge=1)] = None) -> LayerOut:
    row = _visible(store, user, layer_id)
    v = store.version(layer_id, version or row.head_version)
    if v is None:
        raise Denied("Version nicht gefunden", "Version not found", status=404, code="not_found")
    return _out(user, row, v)


@router.get("/layers/{layer_id}/versions", response_model=list[LayerVersionOut],
            summary="All versions / alle Versionen")
def list_versions(user: UserDep, store: StoreDep, layer_id: LayerIdPath) -> list[LayerVersionOut]:
    _visible(store, user, layer_id)
    out = []
    for v in store.versions(layer_id):
        d = dict(v.__dict__)
        d.pop("layer_id")
        out.append(LayerVersionOut(**d))
    return out


@router.get("/layers/{layer_id}/data", summary="The layer's data: GeoJSON (WGS84), GeoTIFF or a PNG preview",
            responses={200: {"content": {"application/geo+json": {}, "image/tiff": {}, "image/png": {}}}})
def layer_data(user: UserDep, store: StoreDep, layer_id: LayerIdPath,
               version: Annotated[int | None, Query(ge=1)] = None,
               preview: Annotated[bool, Query(description="rasters: a PNG coloured by the style")] = False) -> Response:
    row = _visible(store, user, layer_id)
    ver = version or row.head_version
    v = store.version(layer_id, ver)
    text, raster = store.data(layer_id, ver)
    if v is None or (text is None and raster is None):
        raise Denied("Version nicht gefunden", "Version not found", status=404, code="not_found")
    if text is not None:
        return Response(text, media_type="application/geo+json")
    assert raster is not None
    if preview:
        return Response(raster_preview_png(raster, v.style), media_type="image/png")
    return Response(raster, media_type="image/tiff",
                    headers={"Content-Disposition": f'attachment; filename="{layer_id}-v{ver}.tif"'})


@router.patch("/layers/{layer_id}", response_model=LayerOut, summary="Title and visibility / Titel und Sichtbarkeit")
def patch_layer(user: UserDep, store: StoreDep, layer_id: LayerIdPath, body: LayerPatch) -> LayerOut:
    if not may_upload(user):
        raise Denied("Ebenen ändern nur Planerinnen, Planer und Admins", "Only planners and admins change layers")
    row = _visible(store, user, layer_id)
    if not may_manage(user, row):
        raise Denied("Nur die Abteilung, der die Ebene gehört, ändert sie",
                     "Only the department that owns the layer changes it")
    store.update(layer_id, title=body.title, visibility=body.visibility, shared_with=body.shared_with)
    row = store.get(layer_id)
    v = store.version(layer_id, row.head_version) if row else None
    assert row is not None and v is not None
    return _out(user, row, v)

