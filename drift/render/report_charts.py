"""Trend charts for the HTML report: point coordinates for inline SVG, computed here, drawn by the template.

A chart is a plain value (numbers and short strings): the template only places it, so nothing
from an image ever reaches SVG geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERIES: tuple[tuple[str, str], ...] = (("open", "open"), ("new", "new"), ("resolved", "resolved"))


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: str  # "x,y x,y ..." for <polyline points=...>
    dots: tuple[tuple[float, float, str], ...]  # (x, y, tooltip)


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: float
    top: int
    ymax: int
    series: tuple[Series, ...]
    first: str  # label under the first point (date of the oldest run)
    last: str
    runs: int


def _day(iso: str) -> str:
    """`2026-11-28T23:00:52Z` -> `11-28 23:00` (short enough for an axis)."""
    return iso[5:16].replace("T", " ") if len(iso) >= 16 else iso


def chart(points: list[dict[str, Any]], *, width: int = 560, height: int = 170, compact: bool = False) -> Chart:
    """Open, new and resolved counts per run, oldest first, scaled into a width x height box."""
    left, top = (2, 3) if compact else (34, 10)
    bottom = height - (3 if compact else 22)
    right = width - (2 if compact else 10)
    ymax = max([1, *(int(p.get(key) or 0) for p in points for key, _ in SERIES)])
    n = len(points)

    def x(i: int) -> float:
        return round(left + (right - left) * (i / (n - 1) if n > 1 else 0.5), 1)

    def y(v: int) -> float:
        return round(bottom - (bottom - top) * v / ymax, 1)

    series = []
    for key, label in SERIES:
        coords = [
            (x(i), y(int(p.get(key) or 0)), f"run {p.get('run')}: {int(p.get(key) or 0)} {label}")
            for i, p in enumerate(points)
        ]
        series.append(Series(key, " ".join(f"{cx},{cy}" for cx, cy, _ in coords), tuple(coords)))
    return Chart(
        width=width,
        height=height,
        left=left,
        bottom=bottom,
        top=top,
        ymax=ymax,
        series=tuple(series),
        first=_day(str(points[0].get("finished") or "")) if points else "",
        last=_day(str(points[-1].get("finished") or "")) if points else "",
        runs=n,
    )
