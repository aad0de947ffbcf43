"""`drift inspect`: what is installed in a container or image.

    source layers -> scans -> merged views (base, target) -> collectors -> Inventory

`inspection.py` turns a resolved source into an `Inspection` (its `Inventory` and views); one
module per collector beside it (apt, pip, files, users and accounts, scripts, verify, runtime,
reuse, origin). The names below are `inspection.py`'s, imported on first use: a command that
only sets the package-check mode (`verify.configure`) or reads one collector does not load
them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drift.inventory.inspection import Inspection, Scanner, build, inspect_target, plain_scanner

__all__ = ["Inspection", "Scanner", "build", "inspect_target", "plain_scanner"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from drift.inventory import inspection

        return getattr(inspection, name)
    raise AttributeError(f"module 'drift.inventory' has no attribute {name!r}")
