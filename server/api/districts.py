"""Districts: list, summary, 3D tiles (tileset.json and GLB content) and GeoJSON of links and stops."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, Response

from server.api.deps import TwinDep
from server.api.errors import ERROR_RESPONSES
from server.api.schemas import DistrictOut
from server.districts import NAME_PATTERN, DistrictMissing
from server.exports import links_geojson, stops_geojson
from server.scenarios import NotFound

router = APIRouter(prefix="/districts", tags=["districts"], responses=ERROR_RESPONSES)
DistrictName = Annotated[str, Path(pattern=NAME_PATTERN, description="district name")]
_TILE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@router.get("", response_model=list[DistrictOut], summary="All districts / alle Gebiete")
def list_districts(twin: TwinDep) -> list[DistrictOut]:
    out = []
    for name in twin.districts.names():
        try:
            d = twin.districts.get(name)
        except (DistrictMissing, OSError, ValueError):
            continue
        out.append(DistrictOut(name=name, summary=d.summary(), has_tiles=(twin.districts.tiles_dir(name) / "tileset.json").exists()))
    return out


@router.get("/{name}", response_model=DistrictOut, summary="One district's summary")
def get_district(name: DistrictName, twin: TwinDep) -> DistrictOut:
    d = twin.districts.get(name)
    return DistrictOut(name=name, summary=d.summary(), has_tiles=(twin.districts.tiles_dir(name) / "tileset.json").exists())


def _tile_file(twin, name: str, file: str):
    folder = twin.districts.tiles_dir(name)
    path = folder / file
    if not _TILE.match(file) or not path.is_file() or path.resolve().parent != folder.resolve():
        raise NotFound(f"Kachel {file!r} von {name!r} gibt es nicht", f"Tile {file!r} of {name!r} does not exist")
    return path


@router.get("/{name}/tileset.json", summary="3D Tiles tileset of the district",
            responses={200: {"content": {"application/json": {}}}})
def tileset(name: DistrictName, twin: TwinDep) -> FileResponse:
    twin.districts.bundle_dir(name)
    return FileResponse(_tile_file(twin, name, "tileset.json"), media_type="application/json")


@router.get("/{name}/tiles/{file}.glb", summary="One GLB tile",
            responses={200: {"content": {"model/gltf-binary": {}}}})
def tile(name: DistrictName, file: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,96}$")], twin: TwinDep) -> FileResponse:
    return FileResponse(_tile_file(twin, name, f"{file}.glb"), media_type="model/gltf-binary")


@router.get("/{name}/links.geojson", summary="Road links as GeoJSON (WGS84)",
            responses={200: {"content": {"application/geo+json": {}}}})
def links(name: DistrictName, twin: TwinDep) -> Response:
    return Response(links_geojson(twin.districts.get(name)), media_type="application/geo+json")


@router.get("/{name}/stops.geojson", summary="Stops as GeoJSON (WGS84)",
            responses={200: {"content": {"application/geo+json": {}}}})
def stops(name: DistrictName, twin: TwinDep) -> Response:
    return Response(stops_geojson(twin.districts.get(name)), media_type="application/geo+json")
