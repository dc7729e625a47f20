"""`lcphone serve` in a process of its own, as a user starts it: for tests of the CLI, benchmarks, other languages."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time


class ServeProcess:
    """Starts `lcphone serve --port 0 ARGS...` (`port_given`: ARGS name the port; `command`: another command that
    listens, `proxy`), waits for its banner, and stops it (workers included). `program`: how `lcphone` is run
    (this interpreter's module by default; an installed entry point), in `cwd` with `env` (default: this one's)."""

    def __init__(
        self,
        *args: str,
        timeout: float = 60,
        port_given: bool = False,
        command: str = "serve",
        program: list[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        port = [] if port_given else ["--port", "0"]
        self.command = command
        self.process = subprocess.Popen(
            [*(program or [sys.executable, "-m", "mockserver.cli"]), command, *port, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group: workers included, it can be stopped whole
        )
        self.banner: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                return
        self.kill()
        self.process.wait()
        raise RuntimeError(f"lcphone {command} did not start: {self.banner} {self.process.stderr.read()}")

    def value(self, label: str) -> str:
        """A value of the banner: `value("token")`, `value("location id")`..."""
        return next(
            re.split(r"\s{2,}", line.strip(), maxsplit=1)[1] for line in self.banner if line.strip().startswith(label)
        )

    @property
    def base_url(self) -> str:
        return self.value("base URL").split()[0]

    def stop(self, timeout: float = 15) -> tuple[int, str, str]:
        """Ctrl-C, then the exit code and what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err

    def kill(self) -> None:
        """SIGKILL to the whole process group (a killed supervisor would leave its workers behind)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
