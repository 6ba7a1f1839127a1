"""Charts of the forecast (matplotlib, PNG): population pyramids (base year vs a forecast year), old-age
ratio over time per Gemeinde, demand against capacity per service, scenario vs baseline. German labels
first, English second. Person counts drawn are the published ones (rounded to 5, 1-4 not shown)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from models.forecast.calibrate import old_age_ratio
from models.forecast.demand import UNITS
from models.forecast.service import ForecastRun, published_demand, pyramid

__all__ = ["pyramid_chart", "old_age_ratio_chart", "demand_chart", "scenario_chart", "write_charts"]


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _plt().close(fig)
    return path


def pyramid_chart(run: ForecastRun, year: int, path: Path, ags: str | None = None) -> Path:
    """Pyramid of the base year (outline) and ``year`` (bars), for the Kreis or one Gemeinde."""
    plt = _plt()
    pr = run.projection
    a = pyramid(pr, int(pr.years[0]), ags)
    b = pyramid(pr, year, ags)
    y = np.arange(len(a["age_groups"]))

    def vals(p: dict, key: str) -> np.ndarray:
        return np.array([v or 0 for v in p[key]], float)

    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(y, -vals(b, "persons_male"), color="#1f77b4", alpha=0.8, label=f"Männer / men {year}")
    ax.barh(y, vals(b, "persons_female"), color="#d62728", alpha=0.8, label=f"Frauen / women {year}")
    ax.step(-vals(a, "persons_male"), y, where="mid", color="black", lw=1.2, label=f"{int(pr.years[0])}")
    ax.step(vals(a, "persons_female"), y, where="mid", color="black", lw=1.2)
    ax.set_yticks(y, a["age_groups"], fontsize=7)
    ax.axvline(0, color="grey", lw=0.5)
    ticks = ax.get_xticks()
    ax.set_xticks(ticks, [f"{abs(t):,.0f}".replace(",", ".") for t in ticks])
    where = "Burgenlandkreis" if ags is None else f"{pr.names[pr.ags.index(ags)]} ({ags})"
    ax.set_title(f"Bevölkerungspyramide / population pyramid — {where}")
    ax.set_xlabel("Personen / persons (auf 5 gerundet, unter 5 nicht gezeigt / rounded to 5, under 5 not shown)")
    ax.set_ylabel("Alter / age")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def old_age_ratio_chart(run: ForecastRun, path: Path) -> Path:
    """Old-age ratio (65+ per 100 aged 20-64) over time per Gemeinde, the Kreis in bold."""
    plt = _plt()
    pr = run.projection
    fig, ax = plt.subplots(figsize=(8, 5))
    for g in range(len(pr.ags)):
        r = [old_age_ratio(pr.persons[i, g]) if pr.persons[i, g].sum() > 0 else np.nan for i in range(pr.years.size)]
        ax.plot(pr.years, r, color="#9e9e9e", lw=0.8)
    k = pr.kreis()
    ax.plot(pr.years, [old_age_ratio(k[i]) for i in range(pr.years.size)], color="#b71c1c", lw=2.5,
            label="Burgenlandkreis")
    ax.plot([], [], color="#9e9e9e", lw=0.8, label="Gemeinden / municipalities")
    ax.set_title("Altenquotient (65+ je 100 im Alter 20-64) / old-age ratio (65+ per 100 aged 20-64)")
    ax.set_xlabel("Jahr / year")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def demand_chart(run: ForecastRun, path: Path) -> Path:
    """Demand per service over time for the Kreis, capacity where known, as small multiples."""
    plt = _plt()
    d = published_demand(run.demand)
    services = list(dict.fromkeys(d["service"]))
    n = len(services)
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, s in zip(axes.ravel(), services, strict=False):
        sub = d[d["service"] == s].groupby("year")[["demand", "capacity"]].sum(min_count=1)
        ax.plot(sub.index, sub["demand"], color="#1565c0", lw=2, label="Bedarf / demand")
        if sub["capacity"].notna().any():
            ax.plot(sub.index, sub["capacity"], color="#2e7d32", lw=1.5, ls="--", label="Kapazität / capacity")
            ax.legend(fontsize=7)
        ax.set_title(UNITS.get(s, s), fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle("Bedarf und Kapazität im Kreis / demand and capacity in the Kreis")
    fig.tight_layout()
    return _save(fig, path)


def scenario_chart(run: ForecastRun, baseline: ForecastRun, path: Path) -> Path:
    """Scenario vs baseline side by side: total, 65+ and under 18 over time (Kreis)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (title, sl) in zip(axes, (("Einwohner / population", slice(0, None)), ("65+", slice(65, None)),
                                      ("unter 18 / under 18", slice(0, 18))), strict=True):
        for r, lab, col in ((baseline, "Basis / baseline", "#616161"), (run, "Szenario / scenario", "#e65100")):
            k = r.projection.kreis()
            ax.plot(r.projection.years, [k[i][:, sl].sum() for i in range(k.shape[0])], color=col, lw=2, label=lab)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Szenario und Basis / scenario and baseline (Burgenlandkreis)")
    fig.tight_layout()
    return _save(fig, path)


def write_charts(run: ForecastRun, out_dir: str | Path, *, year: int | None = None,
                 baseline: ForecastRun | None = None, gemeinden: bool = False) -> list[Path]:
    """All charts into ``out_dir``; per-Gemeinde pyramids with ``gemeinden``."""
    out = Path(out_dir)
    pr = run.projection
    year = int(year or pr.years[-1])
    paths = [pyramid_chart(run, year, out / f"pyramid_kreis_{year}.png"),
             old_age_ratio_chart(run, out / "old_age_ratio.png"),
             demand_chart(run, out / "demand.png")]
    if baseline is not None:
        paths.append(scenario_chart(run, baseline, out / "scenario_vs_baseline.png"))
    if gemeinden:
        for a in pr.ags:
            paths.append(pyramid_chart(run, year, out / f"pyramid_{a}_{year}.png", a))
    return paths
