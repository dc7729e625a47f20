"""Starting `lcphone serve` for a benchmark: in its own process group, on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time


class Served:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver.cli", "serve", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        self.started = time.perf_counter()
        self.banner: list[str] = []
        for line in self.process.stdout:
            self.banner.append(line.rstrip())
            if line.startswith("Press Ctrl-C"):
                break
        else:
            raise SystemExit(f"lcphone serve did not start: {self.process.stderr.read()}")
        self.base_url = next(re.split(r"\s{2,}", l.strip(), 1)[1] for l in self.banner if l.strip().startswith("base URL"))

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
