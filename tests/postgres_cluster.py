"""A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl in a temporary folder, on a loopback port.

Run as the `postgres` user where the tests run as root (PostgreSQL refuses root); the distribution's binaries
are found on PATH or under /usr/lib/postgresql/*/bin. `Cluster.find()` says why none can be had.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "fsync": "off",  # a test cluster: the OS keeps what the server wrote, which is what a restart recovers
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


class NoPostgres(RuntimeError):
    """Why no cluster can be started here (shown as the skip reason)."""


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, binaries: Path, root: Path, port: int, run_as: str | None) -> None:
        self.binaries, self.root, self.port, self.run_as = binaries, root, port, run_as
        self.data = root / "data"
        self.log = root / "server.log"

    @classmethod
    def find(cls) -> Cluster:
        binaries = _binaries()
        if binaries is None:
            raise NoPostgres(
                "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
            )
        run_as = None
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise NoPostgres("running as root without runuser: PostgreSQL cannot be started as root")
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                raise NoPostgres("running as root and there is no 'postgres' user to start PostgreSQL as") from None
            run_as = "postgres"
        root = Path(tempfile.mkdtemp(prefix="lcphone-pg-"))
        if run_as:
            shutil.chown(root, run_as)
        return cls(binaries, root, _free_port(), run_as)

    def _command(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}{log}")
        return done

    def init(self) -> Cluster:
        self._command("initdb", "-D", str(self.data), "-U", "lcphone", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
        self._command(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", f"-p {self.port} -k {self.root} {options}", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._command("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_for: float = 0.0) -> None:
        """Stopped as by a crash (`immediate`: no checkpoint, recovery from the WAL at start), then started."""
        self.stop("immediate")
        time.sleep(down_for)
        self.start()

    def server_pids(self) -> list[int]:
        """The postmaster and every backend of this cluster."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:
                continue
            if fields.get("PPid", "").strip() == str(postmaster):
                children.append(int(status.parent.name))
        return [postmaster, *children]

    def pause(self) -> list[int]:
        """A server that accepts connections but never answers (SIGSTOP): what a hung database looks like."""
        pids = self.server_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    @staticmethod
    def resume(pids: list[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://lcphone@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
