"""drift: find and repair environment drift in Docker images and containers."""

from __future__ import annotations

__version__ = "0.1.0"
