"""The suites learn their target from the pytest run they are collected in."""

from __future__ import annotations

import pytest

from mockserver.suites import targeting


def pytest_configure(config: pytest.Config) -> None:
    targeting.CONFIG = config
