"""The README's curl walk-through, run as written against `lcphone serve`: what a newcomer types works."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- walkthrough[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert found, "the README marks its walk-through"
    return found.group(1)


def test_the_readme_walkthrough_runs_as_written(serve) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    served = serve()
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", walkthrough()],
        capture_output=True,
        text=True,
        timeout=60,
        env={"BASE": served.base_url, "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"found \+1415\d{7} \(fingerprint [0-9a-f-]{36}\)", lines[0]), lines
    assert lines[1].startswith('{"status":"success","data":{"number":"+1415') and lines[1].endswith(" 201")
    assert lines[2] == "6" and lines[3] == "1"  # the total outside pools, and the bought number listed once
    assert lines[4] == "True" and lines[5] == "Sales rotation"
    assert lines[6] == (
        '{"statusCode":400,"message":"pageSize: 5000 is greater than the maximum of 1000","error":"Bad Request"} 400'
    )
