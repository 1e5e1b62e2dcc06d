"""Modules and functions imported on first use, for module-level names that a page's first draw need not pay for.

`app_support.data.cached` serves every lesson; lesson 1 uses only its NumPy caches, and importing torch and the model's
modules with it would cost a fresh server about 1.4 s before the first page is drawn. A name made here imports its
module the first time it is used (an attribute read or a call), in whichever thread that happens; Python's import
lock makes a second thread wait for the first. Type checkers see the real imports (under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for a module until an attribute is read from it; then imports it and reads the attribute there."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def module(name: str) -> Any:
    """``name`` imported on first attribute read, e.g. ``torch = lazy.module("torch")``."""
    return LazyModule(name)


def function(module_name: str, name: str) -> Callable[..., Any]:
    """The function ``module_name.name``, its module imported on the first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"`{module_name}.{name}`, imported on first call."
    return call
