"""The `dev` script's own messages, as a contributor sees them on a machine without the system packages."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / ".venv" / ".lcphone-installed").is_file(), reason="needs the set-up .venv of ./dev")
def test_the_system_packages_it_installs_are_named_apart(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("cat", "cksum", "dirname", "id", "ls", "sed"):  # no chromium, no initdb on this PATH
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(found)
    calls = tmp_path / "apt-get.calls"
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "apt-get").chmod(0o755)
    environment = {**os.environ, "PATH": str(bin_dir), "LCPHONE_VENV": str(ROOT / ".venv")}
    environment.pop("LCPHONE_NO_SYSTEM_PACKAGES", None)
    ran = subprocess.run(
        ["/bin/sh", str(ROOT / "dev"), "test", "--version"], capture_output=True, text=True, env=environment, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    if os.geteuid() == 0:
        assert "Installing chromium" in ran.stderr and "Installingchromium" not in ran.stderr
        assert "install -y -qq --no-install-recommends chromium" in calls.read_text()
    else:
        assert "Not installing chromium" in ran.stderr or "Installing chromium" in ran.stderr
