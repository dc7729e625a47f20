"""The reliability suite, short form: the attacks of `bench/attacks.py` against `lcphone serve`, on loopback.

Stated bounds (generous: they catch a leak or a stall, not a slowdown; `./dev bench` measures the full form):
the server's memory grows by less than 25 MiB per process over all attacks (measured once it has started), the
canary client is always answered with 200 (each within 5 s: never a stall), and every purchase acknowledged with
a 201 is listed afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import attacks

RSS_BOUND_MIB = 25
STALL_SECONDS = 5


def test_attacks_leave_memory_bounded_service_going_and_nothing_lost(serve, tmp_path: Path) -> None:
    workers = 2  # the harder case: two processes on one state file
    served = serve(
        "--workers",
        str(workers),
        "--state",
        str(tmp_path / "state.db"),
        "--max-connections",
        "30",
        "--header-timeout",
        "1",
    )
    outcomes, acknowledged, listed = attacks.replay(served.process.pid, served.base_url, scale=0.1, hold=2)
    for outcome in outcomes:
        assert not outcome.canary_failures, f"{outcome.name}: {outcome.canary_failures[:3]}"
        assert outcome.slowest_canary < STALL_SECONDS, f"{outcome.name}: a {outcome.slowest_canary:.1f} s stall"
    growth = outcomes[-1].rss_after - outcomes[0].rss_before
    assert growth < RSS_BOUND_MIB * workers, [(o.name, round(o.rss_growth, 1)) for o in outcomes]
    assert acknowledged and acknowledged <= listed  # every 201 is kept
