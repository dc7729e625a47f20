"""Settings for every test run from this checkout.

Property-based tests are pinned: hypothesis draws the same examples every run
(derandomized, no example database), so the suite never flakes and a failure
reproduces. `LCPHONE_HYPOTHESIS_PROFILE=explore` draws new examples instead.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "pinned", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("LCPHONE_HYPOTHESIS_PROFILE", "pinned"))
