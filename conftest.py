"""Settings for every test run from this checkout.

Property-based tests are pinned: hypothesis draws the same examples every run
(derandomized, no example database), so the suite never flakes and a failure
reproduces. `LCPHONE_HYPOTHESIS_PROFILE=explore` draws new examples instead.
"""

import os

# httpx imports httpcore only when its first client is made, and maps httpcore's exceptions to its own through a
# table it fills then. Were that first client made inside an in-process pytester run, the run's end would drop
# that httpcore from sys.modules and every later httpx error would escape as a bare httpcore one.
import httpcore  # noqa: F401
from hypothesis import HealthCheck, settings

settings.register_profile(
    "pinned", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("LCPHONE_HYPOTHESIS_PROFILE", "pinned"))
