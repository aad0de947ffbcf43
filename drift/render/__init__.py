"""Renderers: one module per format, each `render(value) -> str`. Input is sorted model data."""

from __future__ import annotations

FORMATS = ("table", "json", "markdown")
