"""Heat layers of the desktop viewer as plain arrays: colour scales, legends, textures and picking.

No GPU here: every function takes and returns numpy arrays, so the viewer's colours and its picking
are tested without a window. Fields are rasters (row, col) with row 0 at the north edge, as the
server sends them (:class:`protocol.GridInfo`); coordinates are in the district's local frame
(metres east/north from its origin); scene positions are in glTF axes (x east, y up, z = -north).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Ramp", "Classes", "LayerSpec", "LegendEntry", "LAYERS", "RASTERS", "OVERLAYS", "RAMPS", "HEAT_STRESS",
           "VC_CLASSES", "TRANSIT_CLASSES", "UTCI_LEGEND", "layer_id", "legend_for", "legend_text", "ramp_rgb",
           "class_rgb", "colour_values", "field_rgba", "legend_image", "cell_of_point", "cell_centre_local_m",
           "cell_value", "hour_series", "screen_ray", "ray_hits_plane", "field_for", "wanted_layers"]


@dataclass(frozen=True)
class LegendEntry:
    """One step of a legend: values in ``[lo, hi)`` drawn in ``rgb`` (sRGB 0..255)."""

    lo_c: float
    hi_c: float
    label_de: str
    label_en: str
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Ramp:
    """A piecewise-linear colour ramp over ``[lo, hi]`` with evenly spaced stops (sRGB)."""

    lo: float
    hi: float
    stops: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Classes:
    """A classed scale: value < breaks[0] -> colours[0], ..., value >= breaks[-1] -> colours[-1]."""

    breaks: tuple[float, ...]
    colours: tuple[tuple[int, int, int], ...]
    labels_de: tuple[str, ...]
    labels_en: tuple[str, ...]


def _hex(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


# The web viewer's colour scales (viewer/web/src/colormap.ts), so both viewers read alike.
_WARM = tuple(_hex(h) for h in ("#fff5c0", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026", "#6b0020"))
_COOL_WARM = tuple(_hex(h) for h in ("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"))
_PURPLES = tuple(_hex(h) for h in ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"))
_TRAFFIC = tuple(_hex(h) for h in ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"))

RAMPS: dict[str, Ramp] = {
    "surface_temp": Ramp(20.0, 60.0, _WARM),
    "air_temp": Ramp(20.0, 38.0, _WARM),
    "utci": Ramp(20.0, 46.0, _WARM),
    "tmrt": Ramp(20.0, 70.0, _WARM),
    "access": Ramp(0.0, 30.0, _PURPLES),
    "traffic": Ramp(0.0, 800.0, _TRAFFIC),
    "diff": Ramp(-4.0, 4.0, _COOL_WARM),
    "uhi": Ramp(-3.0, 3.0, _COOL_WARM),  # air minus the countryside, centred on 0 K
    "cooling": Ramp(0.0, 600.0, _WARM),  # buildings' cooling demand, kWh/day
    "cooling_change": Ramp(-20.0, 20.0, _COOL_WARM),  # its change against no interventions, kWh/day
}

# UTCI heat-stress categories (Bröde et al. 2012), °C
HEAT_STRESS = Classes((26.0, 32.0, 38.0, 46.0),
                      tuple(_hex(h) for h in ("#fff7bc", "#fec44f", "#f03b20", "#bd0026", "#54001c")),
                      ("kein Wärmestress", "mäßiger Wärmestress", "starker Wärmestress", "sehr starker Wärmestress",
                       "extremer Wärmestress"),
                      ("no heat stress", "moderate heat stress", "strong heat stress", "very strong heat stress",
                       "extreme heat stress"))
VC_CLASSES = Classes((0.5, 0.7, 0.9, 1.0), tuple(_hex(h) for h in ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")),
                     ("< 0,5", "0,5–0,7", "0,7–0,9", "0,9–1,0", "> 1,0"), ("< 0.5", "0.5–0.7", "0.7–0.9", "0.9–1.0", "> 1.0"))
TRANSIT_CLASSES = Classes((1.0, 2.0, 3.0, 4.0, 5.0),
                          tuple(_hex(h) for h in ("#006837", "#31a354", "#78c679", "#fecc5c", "#fd8d3c", "#bd0026")),
                          ("A", "B", "C", "D", "E", "F"), ("A", "B", "C", "D", "E", "F"))


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the viewer: a raster draped over the ground or an overlay, its server data and legend.

    ``kind``: ``raster`` (a heat field of ``field``), ``areas`` (access deficit areas), ``roads``
    (per-edge values), ``points`` (vehicles, people), ``stops``, ``pins`` (comments).
    ``subscribe``: the protocol layer (``heat``, ``traffic``, ``agents``, ``access``) that feeds it.
    """

    id: str
    kind: str
    label_de: str
    label_en: str
    legend_de: str
    legend_en: str
    subscribe: str = ""
    field: str = ""
    unit: str = ""
    scale: Ramp | Classes | None = None


LAYERS: dict[str, LayerSpec] = {s.id: s for s in (
    LayerSpec("surface_temp", "raster", "Oberflächentemperatur", "Surface temperature",
              "Wie heiß der Boden in der Sonne wird (°C).", "How hot the ground gets in the sun (°C).",
              "heat", "surface_temp_c", "°C", RAMPS["surface_temp"]),
    LayerSpec("air_temp", "raster", "Lufttemperatur", "Air temperature",
              "Lufttemperatur in 2 m Höhe (°C).", "Air temperature 2 m above ground (°C).",
              "heat", "air_temp_c", "°C", RAMPS["air_temp"]),
    LayerSpec("tmrt", "raster", "Strahlungstemperatur", "Mean radiant temperature",
              "Wie stark Sonne und warme Flächen auf den Körper einstrahlen (mittlere Strahlungstemperatur, °C).",
              "How strongly sun and warm surfaces radiate onto the body (mean radiant temperature, °C).",
              "heat", "tmrt_c", "°C", RAMPS["tmrt"]),
    LayerSpec("utci", "raster", "Gefühlte Temperatur (UTCI)", "Felt temperature (UTCI)",
              "So warm fühlt es sich für Menschen an (°C), mit Sonne, Wind und Feuchte.",
              "How warm it feels to people (°C), with sun, wind and humidity.",
              "heat", "utci_c", "°C", RAMPS["utci"]),
    LayerSpec("uhi", "raster", "Wärmeinsel (Luft − Umland)", "Heat island (air − countryside)",
              "Um wie viel die Luft zur gezeigten Stunde wärmer (rot) oder kühler (blau) ist als über dem freien "
              "Umland (K).", "How much warmer (red) or cooler (blue) the air is than over open countryside at the "
              "hour shown (K).", "heat", "uhi_k", "K", RAMPS["uhi"]),
    LayerSpec("heat_stress", "raster", "Hitzebelastung", "Heat stress",
              "Wie stark die Hitze den Körper belastet.", "How much the heat strains the body.",
              "heat", "utci_c", "°C", HEAT_STRESS),
    LayerSpec("access", "areas", "Erreichbarkeitsdefizite", "Accessibility deficits",
              "Minuten bis zur nächsten Arztpraxis, Einkauf oder Schule ohne Auto – je dunkler, desto weiter.",
              "Minutes to the nearest doctor, shop or school without a car – darker is farther.",
              "access", "", "min", RAMPS["access"]),
    LayerSpec("traffic", "roads", "Verkehrsmenge", "Traffic volume", "Fahrzeuge pro Stunde auf der Straße.",
              "Vehicles per hour on the road.", "traffic", "flow_veh_h", "Kfz/h", RAMPS["traffic"]),
    LayerSpec("vc", "roads", "Auslastung der Straßen", "Road load (v/c)",
              "Verhältnis von Verkehr zu Kapazität: ab 0,9 staut es sich.", "Volume over capacity: congestion from 0.9.",
              "traffic", "vc_ratio", "", VC_CLASSES),
    LayerSpec("vehicles", "points", "Fahrzeuge", "Vehicles", "Fahrzeuge in der Spitzenstunde.",
              "Vehicles in the peak hour.", "traffic", "vehicles"),
    LayerSpec("agents", "points", "Menschen unterwegs", "People under way",
              "Punkte zeigen Menschen auf ihren Wegen (zu Fuß, Rad, Auto, Bus).",
              "Dots show people on their way (walking, cycling, car, bus).", "agents", "people"),
    LayerSpec("transit", "stops", "Haltestellen und Linien", "Stops and lines",
              "Güteklasse der Anbindung: A sehr gut bis F kaum angebunden.",
              "Public transport quality class: A very good to F hardly served.", "access", "", "", TRANSIT_CLASSES),
    LayerSpec("cooling", "buildings", "Kühlbedarf der Gebäude", "Buildings' cooling demand",
              "Kühlbedarf je Gebäude über den heißen Tag (kWh/Tag); grau: Nutzung ohne Kühlung.",
              "Cooling demand per building over the hot day (kWh/day); grey: a use without cooling.",
              "heat", "cooling_kwh_day", "kWh/d", RAMPS["cooling"]),
    LayerSpec("cooling_change", "buildings", "Kühlbedarf: Änderung", "Cooling demand: change",
              "Änderung des Kühlbedarfs je Gebäude gegenüber dem Zustand ohne Maßnahmen (kWh/Tag); blau: weniger.",
              "Change of each building's cooling demand against no interventions (kWh/day); blue: less.",
              "heat", "cooling_kwh_day", "kWh/d", RAMPS["cooling_change"]),
    LayerSpec("comments", "pins", "Hinweise und Ideen", "Comments and ideas",
              "Hinweise und Ideen der Bürgerinnen und Bürger.", "Comments and ideas from citizens."),
    LayerSpec("diff", "raster", "Unterschied B − A", "Difference B − A",
              "Unterschied zwischen zwei Szenarien (K): blau kühler, rot wärmer.",
              "Difference between two scenarios (K): blue cooler, red warmer.", "heat", "utci_c", "K", RAMPS["diff"]),
)}
RASTERS = tuple(k for k, s in LAYERS.items() if s.kind == "raster" and k != "diff")
OVERLAYS = tuple(k for k, s in LAYERS.items() if s.kind != "raster")
_FIELD_ALIASES = {"utci_c": "utci", "tmrt_c": "tmrt", "air_temp_c": "air_temp", "surface_temp_c": "surface_temp",
                  "uhi_k": "uhi"}

# legacy name: the heat-stress classes as legend entries
UTCI_LEGEND: tuple[LegendEntry, ...] = ()  # filled below


def layer_id(name: str) -> str:
    """The layer id of a name the user typed: a layer id or a server field name (``utci_c``).

    Raises ValueError (German / English) for unknown names."""
    key = _FIELD_ALIASES.get(name, name)
    if key not in LAYERS:
        known = ", ".join(LAYERS)
        raise ValueError(f"Unbekannte Ebene {name!r} (bekannt: {known}) / unknown layer")
    return key


def field_for(layer: str) -> str:
    """The server field (``utci_c`` ...) a raster layer shows; '' for overlays."""
    return LAYERS[layer_id(layer)].field if LAYERS[layer_id(layer)].kind == "raster" else ""


def wanted_layers(raster: str, overlays: set[str] | frozenset[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """The protocol layers to subscribe to for a raster and a set of overlays (always ``heat``)."""
    out = {"heat"}
    for k in (raster, *overlays):
        sub = LAYERS[layer_id(k)].subscribe
        if sub:
            out.add(sub)
    return tuple(sorted(out))


def ramp_rgb(ramp: Ramp, values: np.ndarray) -> np.ndarray:
    """Colours (..., 3) uint8 of values on a ramp (clamped at its ends; NaN as the low end)."""
    v = np.asarray(values, dtype=np.float64)
    stops = np.asarray(ramp.stops, dtype=np.float64)
    n = len(stops) - 1
    f = np.clip((np.where(np.isfinite(v), v, ramp.lo) - ramp.lo) / (ramp.hi - ramp.lo), 0.0, 1.0) * n
    i = np.minimum(np.floor(f).astype(np.int64), n - 1)
    w = (f - i)[..., None]
    return np.rint(stops[i] * (1 - w) + stops[i + 1] * w).astype(np.uint8)


def class_rgb(classes: Classes, values: np.ndarray) -> np.ndarray:
    """Colours (..., 3) uint8 of values by class (value >= break -> the next class)."""
    v = np.asarray(values, dtype=np.float64)
    k = np.searchsorted(np.asarray(classes.breaks), np.where(np.isfinite(v), v, -np.inf), side="right")
    return np.asarray(classes.colours, dtype=np.uint8)[k]


def colour_values(layer: str, values: np.ndarray) -> np.ndarray:
    """Colours (..., 3) uint8 of a layer's values with its scale."""
    scale = LAYERS[layer_id(layer)].scale
    if isinstance(scale, Classes):
        return class_rgb(scale, values)
    if isinstance(scale, Ramp):
        return ramp_rgb(scale, values)
    raise ValueError(f"Ebene {layer!r} hat keine Farbskala / layer has no colour scale")


def legend_for(layer: str, values_c: np.ndarray | None = None) -> tuple[LegendEntry, ...]:
    """Legend of a layer, lowest step first: the classes of a classed scale, or the ramp in as many
    steps as it has stops (``values_c`` is accepted for compatibility and not needed: every ramp has
    fixed ends, as in the web viewer, so pictures of different versions compare)."""
    spec = LAYERS[layer_id(layer)]
    scale = spec.scale
    if isinstance(scale, Classes):
        edges = (-np.inf, *scale.breaks, np.inf)
        return tuple(LegendEntry(float(edges[i]), float(edges[i + 1]), scale.labels_de[i], scale.labels_en[i],
                                 scale.colours[i]) for i in range(len(scale.colours)))
    if isinstance(scale, Ramp):
        n = len(scale.stops)
        edges = np.linspace(scale.lo, scale.hi, n + 1)
        mids = (edges[:-1] + edges[1:]) / 2
        rgb = ramp_rgb(scale, mids)
        unit = f" {spec.unit}" if spec.unit else ""
        fmt = "{:.0f}" if scale.hi - scale.lo >= 20 else "{:+.1f}" if scale.lo < 0 else "{:.1f}"
        out = []
        for i in range(n):
            a, b = fmt.format(edges[i]), fmt.format(edges[i + 1])
            out.append(LegendEntry(float(edges[i]), float(edges[i + 1]), f"{a}–{b}{unit}".replace(".", ","),
                                   f"{a}–{b}{unit}", tuple(int(c) for c in rgb[i])))  # type: ignore[arg-type]
        return tuple(out)
    return ()


def legend_text(layer: str, lang: str = "de") -> tuple[str, str]:
    """The layer's name and plain-language explanation in German (``de``) or English (``en``)."""
    spec = LAYERS[layer_id(layer)]
    return (spec.label_en, spec.legend_en) if lang == "en" else (spec.label_de, spec.legend_de)


UTCI_LEGEND = legend_for("heat_stress")


def field_rgba(values_c: np.ndarray, layer: str = "utci", *, alpha: int = 235) -> np.ndarray:
    """Colour a field: (rows, cols) float -> (rows, cols, 4) uint8 sRGB with ``alpha``, by the layer's
    scale (a server field name such as ``utci_c`` means its raster layer). NaN cells are transparent."""
    v = np.asarray(values_c, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"Feld muss 2D sein, nicht {v.shape} / field must be 2D, not {v.shape}")
    out = np.zeros(v.shape + (4,), dtype=np.uint8)
    out[..., :3] = colour_values(layer, v)
    out[..., 3] = np.where(np.isfinite(v), alpha, 0).astype(np.uint8)
    return out


def legend_image(legend: tuple[LegendEntry, ...], *, swatch_px: int = 18, width_px: int = 26) -> np.ndarray:
    """A vertical colour bar of a legend, warmest class on top: (n * swatch_px, width_px, 4) uint8."""
    rows = []
    for e in reversed(legend):
        sw = np.zeros((swatch_px, width_px, 4), dtype=np.uint8)
        sw[...] = (*e.rgb, 255)
        sw[0, :] = sw[:, 0] = (40, 40, 40, 255)
        rows.append(sw)
    return np.concatenate(rows, axis=0)


def cell_of_point(grid, x_local_m: float, y_local_m: float) -> tuple[int, int] | None:
    """The (row, col) of the cell holding a local point (metres east, north), or None outside the grid.

    ``grid`` has ``rows``, ``cols``, ``cell_m``, ``west_m`` and ``south_m`` (a ``GridInfo``).
    """
    if not (np.isfinite(x_local_m) and np.isfinite(y_local_m)):
        return None
    col = int(np.floor((x_local_m - grid.west_m) / grid.cell_m))
    row = grid.rows - 1 - int(np.floor((y_local_m - grid.south_m) / grid.cell_m))
    if 0 <= row < grid.rows and 0 <= col < grid.cols:
        return row, col
    return None


def cell_centre_local_m(grid, row: int, col: int) -> tuple[float, float]:
    """Local (east, north) metres of the centre of cell (row, col)."""
    return (grid.west_m + (col + 0.5) * grid.cell_m, grid.south_m + (grid.rows - row - 0.5) * grid.cell_m)


def cell_value(values_c: np.ndarray, row: int, col: int) -> float:
    """The value of one cell (NaN where missing or outside the raster)."""
    v = np.asarray(values_c)
    if 0 <= row < v.shape[0] and 0 <= col < v.shape[1]:
        return float(v[row, col])
    return float("nan")


def hour_series(fields_by_hour: dict[int, np.ndarray], row: int, col: int) -> list[tuple[int, float]]:
    """(hour, value) of one cell across the hourly fields received, ordered by hour."""
    return [(h, cell_value(fields_by_hour[h], row, col)) for h in sorted(fields_by_hour)]


def screen_ray(projection_inverse: np.ndarray, camera_world: np.ndarray, ndc_xy: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray]:
    """World-space ray (origin (3,), unit direction (3,)) through a point of the picture.

    ``projection_inverse`` is the camera's inverse (4, 4) projection matrix, ``camera_world`` its
    (4, 4) world matrix (camera to world, column vectors); ``ndc_xy`` the point in normalised device
    coordinates (-1..1, y up).
    """
    pinv, cw = np.asarray(projection_inverse, float), np.asarray(camera_world, float)
    pts = []
    for z in (0.0, 1.0):
        p = pinv @ np.array([ndc_xy[0], ndc_xy[1], z, 1.0])
        p = cw @ (p / p[3])
        pts.append(p[:3])
    d = pts[1] - pts[0]
    return pts[0], d / np.linalg.norm(d)


def ray_hits_plane(origin: np.ndarray, direction: np.ndarray, height_y: float) -> np.ndarray | None:
    """Where a ray meets the horizontal plane ``y = height_y`` (glTF axes), or None when it never does."""
    if abs(direction[1]) < 1e-9:
        return None
    t = (height_y - origin[1]) / direction[1]
    return None if t <= 0 else origin + t * direction
