"""The one place where the domain's answers become wire shapes, one view per API version.

The domain (`PhoneSystem`) returns models and never knows a version; the
gateway picks the view of the version the request asked for (DECISIONS.md, D1).
"""

from __future__ import annotations

from ..contract_files import LATEST, LEGACY
from .base import View
from .legacy import LegacyView
from .v3 import V3View

VIEWS: dict[str, View] = {LATEST: V3View(), LEGACY: LegacyView()}


def view_for(version: str) -> View:
    return VIEWS[version]


__all__ = ["VIEWS", "View", "view_for"]
