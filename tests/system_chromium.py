"""The system's Chromium (the distribution's package, never a download), for the browser tests, the inspector's
benchmark and the README's picture."""

from __future__ import annotations

import os
import shutil

# Headless, as root where the runner is, and quiet: without the background-networking flags Chromium keeps
# trying hosts a closed network refuses.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


def executable() -> str | None:
    """LCPHONE_CHROMIUM, or the first Chromium on PATH; None where there is none."""
    for candidate in (os.environ.get("LCPHONE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None
