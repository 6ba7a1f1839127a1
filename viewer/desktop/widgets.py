"""On-screen widgets of the desktop viewer: the layer list, the tool palette, the legend with its title
and unit, the hour slider with a play button and the inspection panel.

pygfx has no widget kit, so the widgets are drawn here with Pillow into one transparent picture the
size of the window (a font with umlauts and the degree sign: matplotlib's DejaVu Sans), laid over the
scene by the viewer, and clicks are matched against the same layout. Layout, drawing and hit testing
are plain functions, tested without a window; the keys keep working beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["Item", "UiView", "layout", "hit", "slider_hour", "draw_ui", "ui_font", "SHORT_LABELS", "wrap"]

ROW = 15  # row height of lists, logical pixels
LEFT_W = 124
RIGHT_W = 124  # the right column (tools, legend) on small windows; wider on large ones


def right_w(width_px: int) -> int:
    """Width of the right column (tools and legend) on a canvas ``width_px`` wide."""
    return RIGHT_W if width_px < 720 else 172
BAR_H = 24
FONT_PX = 11

# names short enough for the lists (German, English)
SHORT_LABELS: dict[str, tuple[str, str]] = {
    "utci": ("Gefühlt (UTCI)", "Felt (UTCI)"), "tmrt": ("Strahlung (Tmrt)", "Radiant (Tmrt)"),
    "air_temp": ("Luft", "Air"), "surface_temp": ("Oberfläche", "Surface"), "heat_stress": ("Hitzestress", "Heat stress"),
    "uhi": ("Wärmeinsel", "Heat island"), "access": ("Erreichbarkeit", "Access"), "traffic": ("Verkehr", "Traffic"),
    "vc": ("Auslastung v/c", "Load v/c"), "vehicles": ("Fahrzeuge", "Vehicles"), "agents": ("Menschen", "People"),
    "transit": ("Haltestellen", "Stops"), "comments": ("Hinweise", "Comments"), "cooling": ("Kühlbedarf", "Cooling"),
    "diff": ("Unterschied B−A", "Difference B−A"),
    "tree": ("Baum", "Tree"), "tree_row": ("Baumreihe", "Tree row"), "park": ("Park", "Park"),
    "unseal": ("Entsiegeln", "Unseal"), "green_roof": ("Gründach", "Green roof"),
    "road_closure": ("Sperren", "Close road"), "tempo30": ("Tempo 30", "Tempo 30"), "bus_line": ("Buslinie", "Bus line"),
    "new_stop": ("Haltestelle", "New stop"), "on_demand": ("Rufbus-Zone", "On-demand"), "": ("Auswählen", "Inspect"),
}


@dataclass(frozen=True)
class Item:
    """One clickable widget: its box (x0, y0, x1, y1 in logical pixels from the top left) and what a
    click does: ``("layer", id)``, ``("overlay", id)``, ``("tool", id or "")``, ``("play",)``,
    ``("hour",)`` (the slider: the hour under the pointer)."""

    rect: tuple[int, int, int, int]
    action: tuple[str, ...]
    label: str = ""


@dataclass
class UiView:
    """What the widgets show (filled by the viewer from its state)."""

    rasters: tuple[str, ...]
    overlays: tuple[str, ...]
    tools: tuple[str, ...]
    layer: str = "utci"
    shown_overlays: frozenset[str] = frozenset()
    tool: str = ""
    hour: int = 15
    playing: bool = False
    lang: str = "de"
    legend_title: str = ""
    legend_rows: tuple[tuple[str, tuple[int, int, int]], ...] = ()  # (label, colour), warmest first
    pick_lines: tuple[str, ...] = ()
    status: str = ""
    extra_names: dict[str, str] = field(default_factory=dict)  # department layers: id -> title
    extra_legends: tuple[tuple[str, tuple[tuple[str, tuple[int, int, int]], ...]], ...] = ()  # their legends
    can_edit: bool = True


@lru_cache(maxsize=8)
def ui_font(px: int = FONT_PX) -> Any:
    """A TrueType font with umlauts, ß and the degree sign (matplotlib's DejaVu Sans)."""
    from pathlib import Path

    import matplotlib
    from PIL import ImageFont

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), px)


def _label(key: str, lang: str, names: dict[str, str]) -> str:
    if key in names:
        return names[key]
    de, en = SHORT_LABELS.get(key, (key, key))
    return en if lang == "en" else de


def layout(size: tuple[int, int], view: UiView) -> list[Item]:
    """The widgets' boxes for a canvas of ``size`` (logical pixels): the layer list down the left edge,
    the tools down the right edge (planners), the hour bar along the bottom."""
    w, h = int(size[0]), int(size[1])
    items: list[Item] = []
    y = 4 + ROW  # below the list's heading
    for k in view.rasters:
        items.append(Item((2, y, LEFT_W, y + ROW), ("layer", k), _label(k, view.lang, view.extra_names)))
        y += ROW
    y += 4
    for k in view.overlays:
        if y + ROW > h - BAR_H - 2:
            break
        items.append(Item((2, y, LEFT_W, y + ROW), ("overlay", k), _label(k, view.lang, view.extra_names)))
        y += ROW
    if view.can_edit:
        y = 4 + ROW
        for k in ("", *view.tools):
            items.append(Item((w - right_w(w), y, w - 2, y + ROW), ("tool", k), _label(k, view.lang, {})))
            y += ROW
    items.append(Item((2, h - BAR_H + 2, 2 + BAR_H, h - 2), ("play",), ""))
    items.append(Item((BAR_H + 8, h - BAR_H + 2, w - 52, h - 2), ("hour",), ""))
    return items


def hit(items: list[Item], x: float, y: float) -> Item | None:
    """The widget under a point, or None."""
    for it in items:
        x0, y0, x1, y1 = it.rect
        if x0 <= x < x1 and y0 <= y < y1:
            return it
    return None


def panel_boxes(size: tuple[int, int], view: UiView, items: list[Item]) -> list[tuple[int, int, int, int]]:
    """The boxes the widgets cover (their backgrounds): a click there never reaches the scene."""
    w, h = int(size[0]), int(size[1])
    out = []
    left = [it.rect for it in items if it.action[0] in ("layer", "overlay")]
    if left:
        out.append((0, 0, LEFT_W + 2, max(r[3] for r in left) + 2))
    tools = [it.rect for it in items if it.action[0] == "tool"]
    if tools:
        out.append((w - right_w(w) - 2, 0, w, max(r[3] for r in tools) + 2))
    out.append((0, h - BAR_H, w, h))
    lg = _legend_box(size, view, tools)
    if lg is not None:
        out.append(lg)
    if view.pick_lines:
        out.append(_pick_box(size, view))
    return out


def _legend_box(size: tuple[int, int], view: UiView, tools: list[tuple[int, int, int, int]]
                ) -> tuple[int, int, int, int] | None:
    if not view.legend_rows and not view.legend_title and not view.extra_legends:
        return None
    w, h = int(size[0]), int(size[1])
    title = wrap(view.legend_title, right_w(w) - 8)
    rows = len(title) * 13 + len(view.legend_rows) * 12 + 8
    for t, entries in view.extra_legends:
        rows += len(wrap(t, right_w(w) - 8)) * 13 + len(entries) * 12 + 4
    y1 = h - BAR_H - 2
    top = max(r[3] for r in tools) + 4 if tools else 4
    y0 = max(top, y1 - rows)
    return (w - right_w(w) - 2, y0, w, y1)


def _pick_box(size: tuple[int, int], view: UiView) -> tuple[int, int, int, int]:
    w, h = int(size[0]), int(size[1])
    n = len(view.pick_lines)
    return (LEFT_W + 6, h - BAR_H - 4 - 13 * n - 6, min(w - right_w(w) - 6, LEFT_W + 6 + 260), h - BAR_H - 4)


def wrap(text: str, width_px: int, px: int = FONT_PX) -> list[str]:
    """``text`` broken into lines no wider than ``width_px`` (at word boundaries)."""
    font = ui_font(px)
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(lines[-1] + " " + word) <= width_px:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def slider_hour(item: Item, x: float) -> int:
    """The hour (0..23) at ``x`` on the slider."""
    x0, _, x1, _ = item.rect
    return int(np.clip(np.round((x - x0) / max(x1 - x0, 1) * 23), 0, 23))


def draw_ui(size: tuple[int, int], view: UiView, items: list[Item]) -> np.ndarray:
    """The widgets as a transparent (h, w, 4) uint8 sRGB picture."""
    from PIL import Image, ImageDraw

    w, h = int(size[0]), int(size[1])
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    font, bold = ui_font(FONT_PX), ui_font(FONT_PX)
    panel, ink, sel = (255, 255, 255, 225), (25, 25, 25, 255), (40, 90, 170, 255)
    for box in panel_boxes(size, view, items):
        d.rectangle(box, fill=panel)
    de = view.lang != "en"
    d.text((6, 4), "Ebenen" if de else "Layers", font=bold, fill=(90, 90, 90, 255))
    tools = [it for it in items if it.action[0] == "tool"]
    if tools:
        d.text((w - right_w(w) + 4, 4), "Werkzeuge" if de else "Tools", font=bold, fill=(90, 90, 90, 255))
    for it in items:
        x0, y0, x1, y1 = it.rect
        kind = it.action[0]
        if kind in ("layer", "overlay", "tool"):
            on = (kind == "layer" and it.action[1] == view.layer) or \
                 (kind == "overlay" and it.action[1] in view.shown_overlays) or \
                 (kind == "tool" and it.action[1] == view.tool)
            if on:
                d.rectangle((x0, y0, x1, y1 - 1), fill=(214, 228, 248, 255))
            mark_box = (x0 + 3, y0 + 3, x0 + 11, y0 + 11)
            if kind == "overlay":
                d.rectangle(mark_box, outline=ink, fill=sel if on else None)
            else:
                d.ellipse(mark_box, outline=ink, fill=sel if on else None)
            d.text((x0 + 15, y0 + 1), _fit(it.label, x1 - x0 - 17, font), font=font, fill=ink)
        elif kind == "play":
            if view.playing:
                d.rectangle((x0 + 6, y0 + 4, x0 + 9, y1 - 4), fill=ink)
                d.rectangle((x0 + 13, y0 + 4, x0 + 16, y1 - 4), fill=ink)
            else:
                d.polygon([(x0 + 6, y0 + 3), (x0 + 6, y1 - 3), (x1 - 4, (y0 + y1) / 2)], fill=ink)
        elif kind == "hour":
            ym = (y0 + y1) // 2
            d.line((x0, ym, x1, ym), fill=(120, 120, 120, 255), width=3)
            for hh in range(0, 24, 3):
                xt = x0 + (x1 - x0) * hh / 23
                d.line((xt, ym + 3, xt, ym + 6), fill=(120, 120, 120, 255))
            xk = x0 + (x1 - x0) * view.hour / 23
            d.rectangle((xk - 4, y0 + 1, xk + 4, y1 - 1), fill=sel)
            d.text((x1 + 6, y0 + 4), f"{view.hour:02d}:00", font=font, fill=ink)
    lg = _legend_box(size, view, [it.rect for it in tools])
    if lg is not None:
        x0, y, _, _ = lg
        y += 4
        for line in wrap(view.legend_title, right_w(w) - 8):
            d.text((x0 + 5, y), line, font=bold, fill=ink)
            y += 13
        for label, rgb in view.legend_rows:
            d.rectangle((x0 + 5, y + 1, x0 + 19, y + 10), fill=(*rgb, 255), outline=(60, 60, 60, 255))
            d.text((x0 + 23, y - 1), _fit(label, right_w(w) - 28, font), font=font, fill=ink)
            y += 12
        for t, entries in view.extra_legends:  # department layers shown
            y += 4
            for line in wrap(t, right_w(w) - 8):
                d.text((x0 + 5, y), line, font=bold, fill=ink)
                y += 13
            for label, rgb in entries:
                d.ellipse((x0 + 7, y + 1, x0 + 16, y + 10), fill=(*rgb, 255), outline=(60, 60, 60, 255))
                d.text((x0 + 23, y - 1), _fit(label, right_w(w) - 28, font), font=font, fill=ink)
                y += 12
    if view.pick_lines:
        x0, y0, x1, _ = _pick_box(size, view)
        for i, line in enumerate(view.pick_lines):
            d.text((x0 + 5, y0 + 4 + 13 * i), _fit(line, x1 - x0 - 8, font), font=font, fill=ink)
    if view.status:
        d.text((BAR_H + 8, h - BAR_H - 16), view.status, font=font, fill=(60, 60, 60, 255))
    return np.asarray(im, np.uint8)


def _fit(text: str, width_px: int, font: Any) -> str:
    if font.getlength(text) <= width_px:
        return text
    while text and font.getlength(text + "…") > width_px:
        text = text[:-1]
    return text + "…"
