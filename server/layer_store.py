"""Department layers in the server's database: metadata, versions, visibility, search.

Two tables beside the scenario tables, in the same database (SQLite or PostgreSQL), created when missing
(additive: the scenario schema and its migrations are untouched):

- ``dept_layers``: one row per layer: title, owning department, visibility (``private``: the owning
  department only; ``departments``: the owner and the departments in ``shared_with``; ``public``: everyone,
  citizens and kiosks included), the newest version.
- ``dept_layer_versions``: one row per upload, never changed afterwards: metadata (source, licence, date,
  update cycle, description), the checked data (GeoJSON in WGS84 for vectors; the GeoTIFF bytes for
  rasters), attribute types, the style and legend chosen at upload, the uploader.

A re-upload is a new version; the older ones stay readable. A layer and its first version are written in
one transaction, so a refused upload leaves nothing behind.

Who may do what (:func:`may_see`, :func:`may_manage`): admins see and manage every layer; planners see
public layers, their own department's and those shared with their department, and manage their own
department's; citizens and kiosks see public layers only.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from geodata.boundaries import Boundaries, read_boundaries
from geodata.dept_layers import ParsedLayer, Style
from geodata.sources import DataError
from server.roles import User
from server.storage import Storage, now_utc

__all__ = ["LayerStore", "LayerRow", "LayerVersion", "VISIBILITIES", "may_see", "may_manage", "may_upload",
           "region_areas", "GEMEINDEN_FILE"]

VISIBILITIES = ("private", "departments", "public")
GEMEINDEN_FILE = "burgenlandkreis_admin_boundaries_vg5000/burgenlandkreis_gemeinden.geojson"

layer_metadata = sa.MetaData()

dept_layers = sa.Table(
    "dept_layers", layer_metadata,
    sa.Column("layer_id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("visibility", sa.String(16), nullable=False),
    sa.Column("shared_with", sa.Text, nullable=False),  # JSON list of departments
    sa.Column("kind", sa.String(16), nullable=False),  # vector | raster
    sa.Column("head_version", sa.Integer, nullable=False),
    sa.Column("created_utc", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_utc", sa.String(32), nullable=False),
)

dept_layer_versions = sa.Table(
    "dept_layer_versions", layer_metadata,
    sa.Column("layer_id", sa.String(32), sa.ForeignKey("dept_layers.layer_id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("licence", sa.String(200), nullable=False),
    sa.Column("data_date", sa.String(32), nullable=False),
    sa.Column("update_cycle", sa.String(100), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("fields", sa.Text, nullable=False),  # JSON [{name, type}]
    sa.Column("feature_count", sa.Integer, nullable=False),
    sa.Column("geometry_types", sa.String(200), nullable=False),
    sa.Column("bbox_lonlat", sa.String(200), nullable=False),  # JSON [w, s, e, n]
    sa.Column("source_epsg", sa.Integer, nullable=False),
    sa.Column("style", sa.Text, nullable=False),  # JSON {mode, field, entries}
    sa.Column("geojson", sa.Text, nullable=True),  # vectors, WGS84
    sa.Column("raster", sa.LargeBinary, nullable=True),  # GeoTIFF bytes
    sa.Column("raster_info", sa.Text, nullable=True),  # JSON
    sa.Column("uploaded_utc", sa.String(32), nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False),
)


@dataclass(frozen=True)
class LayerRow:
    layer_id: str
    title: str
    department: str
    visibility: str
    shared_with: tuple[str, ...]
    kind: str
    head_version: int
    created_utc: str
    created_by: str
    updated_utc: str


@dataclass(frozen=True)
class LayerVersion:
    layer_id: str
    version: int
    format: str
    filename: str
    source: str
    licence: str
    data_date: str
    update_cycle: str
    description: str
    fields: list[dict[str, str]]
    feature_count: int
    geometry_types: list[str]
    bbox_lonlat: list[float]
    source_epsg: int
    style: dict[str, Any]
    raster_info: dict[str, Any] | None
    uploaded_utc: str
    uploaded_by: str


def may_see(user: User, row: LayerRow) -> bool:
    if row.visibility == "public" or user.role == "admin":
        return True
    if user.role != "planner":
        return False
    if user.department == row.department:
        return True
    return row.visibility == "departments" and user.department in row.shared_with


def may_manage(user: User, row: LayerRow) -> bool:
    return user.role == "admin" or (user.role == "planner" and user.department == row.department)


def may_upload(user: User) -> bool:
    return user.role in ("admin", "planner")


def _row(r: Any) -> LayerRow:
    d = dict(r)
    d["shared_with"] = tuple(json.loads(d["shared_with"]))
    return LayerRow(**d)


_META_COLS = [c for c in dept_layer_versions.c if c.name not in ("geojson", "raster")]


def _version(r: Any) -> LayerVersion:
    d = dict(r)
    for k in ("fields", "geometry_types", "bbox_lonlat", "style"):
        d[k] = json.loads(d[k])
    d["raster_info"] = json.loads(d["raster_info"]) if d["raster_info"] else None
    return LayerVersion(**d)


class LayerStore:
    """Department layers over the server's :class:`server.storage.Storage` engine."""

    def __init__(self, storage: Storage) -> None:
        self.engine = storage.engine
        layer_metadata.create_all(self.engine, checkfirst=True)

    # --- reading ------------------------------------------------------------------------------------
    def get(self, layer_id: str) -> LayerRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(dept_layers.select().where(dept_layers.c.layer_id == layer_id)).mappings().first()
        return _row(r) if r else None

    def search(self, user: User, *, query: str = "", department: str = "") -> list[tuple[LayerRow, LayerVersion]]:
        """Layers ``user`` may see with their newest version; ``query`` matches (case-insensitive) the title,
        department, source, description and attribute names; ``department`` the owning department."""
        j = dept_layers.join(dept_layer_versions, sa.and_(
            dept_layer_versions.c.layer_id == dept_layers.c.layer_id,
            dept_layer_versions.c.version == dept_layers.c.head_version))
        q = sa.select(dept_layers, *_META_COLS).select_from(j).order_by(dept_layers.c.title, dept_layers.c.layer_id)
        if department:
            q = q.where(dept_layers.c.department == department)
        if query:
            like = f"%{query.lower()}%"
            q = q.where(sa.or_(*(sa.func.lower(c).like(like) for c in (
                dept_layers.c.title, dept_layers.c.department, dept_layer_versions.c.source,
                dept_layer_versions.c.description, dept_layer_versions.c.fields))))
        out = []
        with self.engine.connect() as conn:
            for r in conn.execute(q).mappings():
                row = _row({c.name: r[c.name] for c in dept_layers.c})
                if may_see(user, row):
                    out.append((row, _version({c.name: r[c.name] for c in _META_COLS})))
        return out

    def versions(self, layer_id: str) -> list[LayerVersion]:
        q = sa.select(*_META_COLS).where(dept_layer_versions.c.layer_id == layer_id).order_by(dept_layer_versions.c.version)
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q).mappings()]

    def version(self, layer_id: str, version: int) -> LayerVersion | None:
        q = sa.select(*_META_COLS).where(dept_layer_versions.c.layer_id == layer_id,
                                         dept_layer_versions.c.version == version)
        with self.engine.connect() as conn:
            r = conn.execute(q).mappings().first()
        return _version(r) if r else None

    def data(self, layer_id: str, version: int) -> tuple[str | None, bytes | None]:
        """(GeoJSON text, GeoTIFF bytes) of one version; one of them is None."""
        q = sa.select(dept_layer_versions.c.geojson, dept_layer_versions.c.raster).where(
            dept_layer_versions.c.layer_id == layer_id, dept_layer_versions.c.version == version)
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return (None, None) if r is None else (r[0], r[1])

    # --- writing ------------------------------------------------------------------------------------
    def _version_values(self, layer_id: str, version: int, parsed: ParsedLayer, style: Style, raw: bytes,
                        meta: dict[str, str], filename: str, user: User) -> dict[str, Any]:
        return dict(
            layer_id=layer_id, version=version, format=parsed.format, filename=filename[:200],
            source=meta.get("source", "")[:500], licence=meta.get("licence", "")[:200],
            data_date=meta.get("data_date", "")[:32], update_cycle=meta.get("update_cycle", "")[:100],
            description=meta.get("description", ""),
            fields=json.dumps([{"name": f.name, "type": f.type} for f in parsed.fields], ensure_ascii=False),
            feature_count=parsed.feature_count, geometry_types=json.dumps(list(parsed.geometry_types)),
            bbox_lonlat=json.dumps([round(v, 7) for v in parsed.bbox_lonlat]), source_epsg=parsed.source_epsg,
            style=json.dumps(style.to_json(), ensure_ascii=False),
            geojson=json.dumps(parsed.geojson, ensure_ascii=False, separators=(",", ":")) if parsed.geojson else None,
            raster=raw if parsed.kind == "raster" else None,
            raster_info=json.dumps(parsed.raster.__dict__) if parsed.raster else None,
            uploaded_utc=now_utc(), uploaded_by=(user.name or user.user_id or user.role)[:200],
        )

    def create(self, user: User, *, title: str, visibility: str, shared_with: list[str], parsed: ParsedLayer,
               style: Style, raw: bytes, meta: dict[str, str], filename: str) -> LayerRow:
        """A new layer with its first version (one transaction)."""
        lid = uuid.uuid4().hex[:12]
        now = now_utc()
        row = LayerRow(lid, title[:200], user.department, visibility, tuple(shared_with), parsed.kind, 1, now,
                       (user.name or user.user_id)[:200], now)
        with self.engine.begin() as conn:
            conn.execute(dept_layers.insert().values(
                layer_id=lid, title=row.title, department=row.department, visibility=visibility,
                shared_with=json.dumps(list(shared_with), ensure_ascii=False), kind=parsed.kind, head_version=1,
                created_utc=now, created_by=row.created_by, updated_utc=now))
            conn.execute(dept_layer_versions.insert().values(
                self._version_values(lid, 1, parsed, style, raw, meta, filename, user)))
        return row

    def add_version(self, user: User, row: LayerRow, *, parsed: ParsedLayer, style: Style, raw: bytes,
                    meta: dict[str, str], filename: str) -> int:
        """Store a re-upload as version head + 1 (the older versions stay); returns the new version."""
        with self.engine.begin() as conn:
            head = conn.execute(sa.select(dept_layers.c.head_version).where(
                dept_layers.c.layer_id == row.layer_id)).scalar_one()
            new = int(head) + 1
            res = conn.execute(dept_layers.update().where(
                dept_layers.c.layer_id == row.layer_id, dept_layers.c.head_version == head).values(
                head_version=new, kind=parsed.kind, updated_utc=now_utc()))
            if res.rowcount != 1:
                raise RuntimeError("concurrent upload")
            conn.execute(dept_layer_versions.insert().values(
                self._version_values(row.layer_id, new, parsed, style, raw, meta, filename, user)))
        return new

    def update(self, layer_id: str, *, title: str | None = None, visibility: str | None = None,
               shared_with: list[str] | None = None) -> None:
        values: dict[str, Any] = {"updated_utc": now_utc()}
        if title is not None:
            values["title"] = title[:200]
        if visibility is not None:
            values["visibility"] = visibility
        if shared_with is not None:
            values["shared_with"] = json.dumps(list(shared_with), ensure_ascii=False)
        with self.engine.begin() as conn:
            conn.execute(dept_layers.update().where(dept_layers.c.layer_id == layer_id).values(**values))

    def count(self) -> tuple[int, int]:
        """(layers, versions) in the database."""
        with self.engine.connect() as conn:
            a = conn.execute(sa.select(sa.func.count()).select_from(dept_layers)).scalar() or 0
            b = conn.execute(sa.select(sa.func.count()).select_from(dept_layer_versions)).scalar() or 0
        return int(a), int(b)


def region_areas(settings: Any) -> Boundaries:
    """The Gemeinden that uploads are checked against (lon/lat): the VG5000 outlines from the shared open
    data (``$LANDTWIN_SHARED_DATA`` or ``../shared/data`` beside the project). Raises DataError when absent."""
    root = Path(os.environ.get("LANDTWIN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    path = root / GEMEINDEN_FILE
    if not path.exists():
        raise DataError(path, "Gemeindegrenzen fehlen (für die Prüfung von Ebenen nötig)",
                        "municipality boundaries are missing (needed to check layers)")
    return _areas(str(path))


@lru_cache(maxsize=4)
def _areas(path: str) -> Boundaries:
    return read_boundaries(path)
