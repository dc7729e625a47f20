"""Property-based contract suites, runnable unchanged against any target.

They are pytest modules that use lcphone's fixtures, so the target is chosen
the way the fixtures' is:

    pytest --pyargs mockserver.suites                        # a sandbox, in-process
    pytest --pyargs mockserver.suites \\
        --lcphone-base-url https://staging.example --lcphone-location ID   # a real API, read-only
    # token from LCPHONE_TOKEN (or --lcphone-token); purchases only with --lcphone-allow-purchase

Budgets: LCPHONE_SUITE_EXAMPLES (schemathesis examples per operation, default 25),
LCPHONE_MODEL_EXAMPLES and LCPHONE_MODEL_STEPS (the state machine's runs and steps,
default 15 and 20). LCPHONE_SUITE_SHRINK=0 reports a failure as found, without
shrinking it. Generation is deterministic: the same budget explores the same
cases every run.
"""

from __future__ import annotations

import os
from pathlib import Path

SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")


def shrinking() -> bool:
    """Whether hypothesis shrinks a failure to its smallest form (LCPHONE_SUITE_SHRINK=0 skips it, for speed)."""
    return os.environ.get("LCPHONE_SUITE_SHRINK", "1") != "0"


def budget(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default
