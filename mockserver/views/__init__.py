"""The one place where the domain's answers become wire shapes: one view per API version.

The domain (`PhoneSystem`) returns models and never knows a version; the gateway renders each answer with
the view of the version the request asked for (DECISIONS.md, D1). Which module renders which version is the
version registry's word (`contracts/versions.yaml`, its `view`); each module names its view class `VIEW`.
"""

from __future__ import annotations

import functools
import importlib

from ..contract.versions import ApiVersion, registry
from .base import View


@functools.cache
def _view(version: ApiVersion) -> View:
    module = importlib.import_module(f"{__name__}.{version.view}")
    return module.VIEW(version)


def view_for(version: str | ApiVersion) -> View:
    """The view of a version (a name of the registry, or an entry of any registry)."""
    return _view(registry()[version] if isinstance(version, str) else version)


__all__ = ["View", "view_for"]
