"""A film of the design day: hourly fields interpolated into smooth frames, drawn by the desktop
viewer and written as MP4 (H.264) through imageio's ffmpeg plugin.

:func:`day_frames` is plain arithmetic (linear interpolation between consecutive hours received);
:func:`write_film` renders the frames with a :class:`viewer.desktop.app.DesktopApp` on an offscreen
canvas and writes them to a temporary file that is renamed into place when complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["day_frames", "write_film", "FilmError"]


class FilmError(RuntimeError):
    """The film could not be made (too few hours, no encoder); message in German / English."""


def day_frames(fields_by_hour: dict[int, np.ndarray], steps_per_hour: int) -> Iterator[tuple[float, np.ndarray]]:
    """(hour as a float, field) for every frame: the received hours in order, ``steps_per_hour`` frames
    from each hour to the next (linear in time), and the last hour itself."""
    hours = sorted(fields_by_hour)
    if len(hours) < 2:
        raise FilmError("Ein Film braucht mindestens zwei Stunden / a film needs at least two hours")
    if steps_per_hour < 1:
        raise FilmError("Mindestens ein Bild pro Stunde / at least one frame per hour")
    for h0, h1 in zip(hours, hours[1:], strict=False):
        a, b = fields_by_hour[h0], fields_by_hour[h1]
        for k in range(steps_per_hour):
            w = k / steps_per_hour
            yield h0 + w * (h1 - h0), (a * (1.0 - w) + b * w).astype(np.float32)
    yield float(hours[-1]), fields_by_hour[hours[-1]].astype(np.float32)


def write_film(app: Any, path: Path | str, fields_by_hour: dict[int, np.ndarray], *, steps_per_hour: int = 4,
               fps: int = 8) -> tuple[Path, int]:
    """Render the day with ``app`` (offscreen) and write an MP4 to ``path``; returns the path and the
    number of frames."""
    import imageio.v2 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.mp4")
    n = 0
    try:
        writer = iio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=7,
                                pixelformat="yuv420p", macro_block_size=16, ffmpeg_log_level="error")
    except Exception as exc:  # noqa: BLE001 - imageio raises several kinds when ffmpeg is missing
        raise FilmError(f"Kein Videokodierer ({exc}) / no video encoder") from None
    try:
        for hour_f, values in day_frames(fields_by_hour, steps_per_hour):
            app.show_values(values, hour_f)
            img = app.render_offscreen()
            writer.append_data(np.asarray(app.annotate(img), dtype=np.uint8))
            n += 1
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.replace(path)
    return path, n
