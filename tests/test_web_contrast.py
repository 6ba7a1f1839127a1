"""WCAG AA contrast of the web viewer's text colours, read from its stylesheet.

Normal text needs a contrast ratio of at least 4.5:1 against its background (WCAG 2.1, 1.4.3); the
pairs below are every text/background combination the page uses for body text, buttons and bars.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[1] / "viewer" / "web" / "styles.css"

# (text, background) by CSS custom property names of :root
PAIRS = [
    ("--ink", "--paper"),  # body text on panels
    ("--muted", "--paper"),  # secondary text, legends
    ("--accent-ink", "--accent"),  # primary and pressed buttons
    ("--paper", "--bar"),  # top bar, hints, toasts
    ("--ink", "--accent-soft"),  # KPI tiles
    ("--muted", "--accent-soft"),
    ("--paper", "--warn"),  # error toasts
]


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _root_colours() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", CSS.read_text(encoding="utf-8"), re.S)
    assert root, "styles.css has no :root block"
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))


def test_contrast_formula_on_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-failing grey


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_colours_meet_wcag_aa(text: str, background: str) -> None:
    colours = _root_colours()
    ratio = contrast(colours[text], colours[background])
    assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f} < 4.5"


REGION_CSS = CSS.with_name("region.css")
# the region view's own text colours (region.css :root) on their backgrounds, and the shared ones it uses
REGION_PAIRS = [
    ("--kiosk-answer", "--kiosk-answer-bg"),  # the kiosk's answers
    ("--chart-src", "--paper"),  # chart units and sources
    ("--chart-src", "--accent-soft"),
    ("--warn", "--paper"),  # missing places in the capacity table
    ("--ok", "--paper"),
]


@pytest.mark.parametrize(("text", "background"), REGION_PAIRS)
def test_region_view_text_colours_meet_wcag_aa(text: str, background: str) -> None:
    root = re.search(r":root\s*\{(.*?)\}", REGION_CSS.read_text(encoding="utf-8"), re.S)
    assert root, "region.css has no :root block"
    colours = {**_root_colours(), **dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))}
    ratio = contrast(colours[text], colours[background])
    assert ratio >= 4.5, f"{text} on {background}: {ratio:.2f} < 4.5"


def test_region_view_uses_only_checked_text_colours() -> None:
    """Every literal text colour in region.css is one of the checked pairs' or a bar's white."""
    css = REGION_CSS.read_text(encoding="utf-8")
    literal = set(re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", css))
    assert literal <= {"#fff", "#ffffff"}, literal
    # white text only on the dark bar and its buttons
    for bg in ("#17293b", "#22384d", "#0b5f8a"):
        assert contrast("#ffffff", bg) >= 4.5, bg
