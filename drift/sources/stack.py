"""What every kind of source gives: a `Source`, a stack of layer handles plus what the source
knows of its image (the resolver in `drift.sources` picks the kind; each kind imports this, not
the package, so the package's resolver and the kinds it imports make no circle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drift.model import ImageConfig, Target
from drift.sources.fs import Layer


@dataclass(slots=True)
class RawHistory:
    created: str
    created_by: str
    comment: str
    size: int | None
    empty_layer: bool


@dataclass(slots=True)
class Source:
    target: Target
    layers: list[Layer]
    layer_ids: list[str]
    config: ImageConfig | None
    history: list[RawHistory] = field(default_factory=list)
    # What the source itself says its base is (a container's image, an image's Parent).
    parent: str | None = None
    parent_reason: str | None = None
    # Set for containers: the first `base_layers` layers are the container's image.
    base_layers: int | None = None
    base_name: str | None = None
    base_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # The engine it was read from when that is not the one the caller gave (containerd's).
    engine: Any = None
