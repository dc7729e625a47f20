"""How fast the inspector page paints with a full journal (10,000 entries), in the system's headless Chromium.

    python bench/inspector_paint.py [--loads 5]

Measured in the browser (Paint Timing and a mark the page sets once the journal is drawn), as the median of
several fresh page loads; the baseline is the same page with an empty journal, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the system's Chromium
import system_chromium
from mockserver import Sandbox
from mockserver.serve.thread import SandboxServer

FULL_JOURNAL = 10_000
TARGET_MS = 500


@dataclass
class Paint:
    entries: int
    first_paint_ms: float  # first contentful paint: the server-rendered page
    journal_shown_ms: float  # the journal's newest rows drawn by the page's script


def _fill(sandbox: Sandbox, entries: int) -> None:
    for i in range(entries):
        sandbox.journal.record(
            "GET", "/phone-system/numbers/location/benchLocation", f"page={i}", "listActiveNumbers", 200, [], "v3"
        )


def measure(entries: int, loads: int, executable: str) -> Paint:
    from playwright.sync_api import sync_playwright

    sandbox = Sandbox()
    _fill(sandbox, entries)
    first, shown = [], []
    with SandboxServer(sandbox) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=system_chromium.FLAGS)
        for _ in range(loads + 1):  # the first load warms the browser's caches: not counted
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{server.base_url}/__admin/ui")
            page.wait_for_function(
                "performance.getEntriesByName('journal-shown').length > 0"
                if entries
                else "document.getElementById('journal-state').textContent === 'live'"
            )
            page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
            first.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"))
            shown.append(
                page.evaluate(
                    "(performance.getEntriesByName('journal-shown')[0] || {startTime: 0}).startTime"
                    " || performance.now()"
                )
            )
            context.close()
        browser.close()
    return Paint(entries, statistics.median(first[1:]), statistics.median(shown[1:]))


def run(loads: int = 5) -> tuple[Paint, Paint] | None:
    """(empty journal, full journal), or None where no Chromium or Playwright can be had."""
    executable = system_chromium.executable()
    try:
        import playwright  # noqa: F401
    except ImportError:
        return None
    if executable is None:
        return None
    return measure(0, loads, executable), measure(FULL_JOURNAL, loads, executable)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    figures = run(parser.parse_args().loads)
    if figures is None:
        print("no Chromium or Playwright here: install the distribution's chromium and `pip install playwright`")
        return 1
    empty, full = figures
    for paint in figures:
        print(
            f"{paint.entries:>6} entries: first paint {paint.first_paint_ms:.0f} ms, "
            f"journal shown {paint.journal_shown_ms:.0f} ms"
        )
    print(
        f"full/empty first paint {full.first_paint_ms / empty.first_paint_ms:.2f}x; "
        f"target < {TARGET_MS} ms: {'met' if full.first_paint_ms < TARGET_MS else 'missed'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
