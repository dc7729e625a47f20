"""What users install is what we test: a fresh virtual environment, the README's install line, and every
documented command, from a clean copy of the repository (its tracked files only).

The nightly workflow (`.github/workflows/nightly-verify.yml`) is run as written: each `run:` step, in order,
with the staging secrets pointing at a local sandbox; every step must exit 0 and leave its reports.
It is one test, so that the environment is built once (a fresh install takes most of its time).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mockserver.serve.process import ServeProcess

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly-verify.yml"
VENDOR = ROOT.parent / "shared" / "reference" / "vendor"


class Installed:
    def __init__(self, clone: Path, venv: Path) -> None:
        self.clone, self.venv = clone, venv

    def environment(self, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("LCPHONE_", "PYTEST_", "VIRTUAL_ENV"))}
        return {
            **keep,
            "PATH": f"{self.venv / 'bin'}:{keep.get('PATH', '')}",
            "VIRTUAL_ENV": str(self.venv),
            "PYTHONPATH": "",
            **extra,
        }

    def shell(self, command: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", command],
            cwd=self.clone,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.environment(**extra),
        )


def tracked_files() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: no clean copy of the repository can be made")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no clean copy of the repository can be made")
    return [name for name in listed.stdout.decode().split("\0") if name]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A clean copy of the repository and a fresh virtual environment with only the README's install line run."""
    base = tmp_path_factory.mktemp("installed")
    clone = base / "lcphone"
    for name in tracked_files():
        source, target = ROOT / name, clone / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    return Installed(clone, venv)


@pytest.fixture(scope="module")
def staging() -> Iterator[ServeProcess]:
    """A sandbox standing for the vendor's staging environment."""
    with ServeProcess() as process:
        yield process


def secrets(staging: ServeProcess) -> dict[str, str]:
    return {
        "LCPHONE_STAGING_URL": staging.base_url,
        "LCPHONE_STAGING_TOKEN": staging.value("token"),
        "LCPHONE_STAGING_LOCATION": staging.value("location id"),
    }


def check_the_nightly_workflow(installed: Installed, staging: ServeProcess) -> None:
    """The workflow's `run:` steps as written (the first is the README's install line): each exits 0."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [job] = workflow["jobs"].values()
    summary = installed.clone / "step-summary.md"
    values = secrets(staging)
    ran = []
    for step in job["steps"]:
        if "run" not in step:
            continue  # checkout, setup-python: done by this test; upload-artifact: checked below
        environment = {
            name: re.sub(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", lambda m: values[m.group(1)], str(value))
            for name, value in step.get("env", {}).items()
        }
        # Smaller property-suite budgets than a nightly run's defaults: the steps are the same, faster.
        budgets = {"LCPHONE_SUITE_EXAMPLES": "4", "LCPHONE_MODEL_EXAMPLES": "3", "LCPHONE_MODEL_STEPS": "8"}
        done = installed.shell(step["run"], GITHUB_STEP_SUMMARY=str(summary), **budgets, **environment)
        assert done.returncode == 0, (
            f"step {step.get('name')!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        ran.append(step.get("name"))
    assert len(ran) == 4, ran
    [upload] = [step for step in job["steps"] if "upload-artifact" in step.get("uses", "")]
    for report in upload["with"]["path"].split():
        assert (installed.clone / report).is_file(), f"{report} was not left for the artifact"
    verify_report = (installed.clone / "verify-report.md").read_text(encoding="utf-8")
    assert "**verdict:** conforms to the contract" in verify_report
    assert "lcphone verify report" in summary.read_text(encoding="utf-8")
    suites = (installed.clone / "suites-report.xml").read_text(encoding="utf-8")
    assert 'failures="0"' in suites and 'errors="0"' in suites


def check_a_missing_secret_fails_the_job(installed: Installed) -> None:
    """A secret that is missing reaches the steps as an empty variable: each step fails, and the verify report
    the job keeps says why (never a green run against the in-process sandbox)."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    [job] = workflow["jobs"].values()
    empty = {"LCPHONE_BASE_URL": "", "LCPHONE_TOKEN": "pit-x", "LCPHONE_LOCATION": "loc"}
    steps = [step for step in job["steps"] if "LCPHONE_BASE_URL" in step.get("env", {})]
    assert len(steps) == 2
    for step in steps:
        done = installed.shell(step["run"], timeout=120, **empty)
        assert done.returncode != 0, f"step {step.get('name')!r} passed with an empty LCPHONE_BASE_URL"
        assert "LCPHONE_BASE_URL is set but empty" in done.stdout + done.stderr
    report = (installed.clone / "verify-report.md").read_text(encoding="utf-8")
    assert "**verdict:** could not run: LCPHONE_BASE_URL is set but empty" in report


def check_the_documented_commands(installed: Installed, staging: ServeProcess) -> None:
    version = installed.shell("lcphone --version")
    assert version.returncode == 0 and re.fullmatch(r"lcphone \d+\.\d+\.\d+\s*", version.stdout)
    documented = ("lcphone --help", "lcphone serve --help", "lcphone verify --help", "lcphone proxy --help",
                  "lcphone contract diff --help")  # fmt: skip
    for command in documented:
        assert installed.shell(command).returncode == 0, command
    # The proxy's own dependencies came with the install: an unreachable target is its one line and exit 2.
    unreachable = installed.shell("lcphone proxy --target http://127.0.0.1:9 --port 0")
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr, unreachable.stderr
    assert "http://127.0.0.1:9" in unreachable.stderr
    drifting = installed.shell(
        f"lcphone verify --base-url {staging.base_url} --api-version v3 --generated 1",
        LCPHONE_TOKEN="pit-bright-full-access-000000004",
        LCPHONE_LOCATION="tDtDnQdgm2LXpyiqYvZ6",
    )
    assert drifting.returncode == 2 and "does not reach location" in drifting.stderr  # set-up problems are not drift
    # The package works from the installed copy: contracts and scenarios ship inside it.
    shipped = installed.shell(
        "cd / && python -c 'from mockserver.contract import files as c; print(c.contracts_dir())'"
    )
    assert shipped.returncode == 0 and "site-packages/mockserver/contracts" in shipped.stdout
    # So do the inspector's page and assets, and the contracts it serves.
    inspector = installed.shell(
        "cd / && python -c '"
        "import httpx, mockserver, mockserver.http.transport as t;"
        'c = httpx.Client(transport=t.SyncASGITransport(mockserver.Sandbox().app), base_url="http://127.0.0.1");'
        'page, icon, v3 = c.get("/__admin/ui"), c.get("/favicon.ico"), c.get("/openapi.json");'
        'print(page.status_code, "poll()" in page.text, "--accent" in page.text, icon.status_code,'
        ' v3.json()["info"]["version"])'
        "'"
    )
    assert inspector.stdout.split() == ["200", "True", "True", "200", "v3"], inspector.stdout + inspector.stderr
    # The pytest plugin, through the examples' tests.
    examples = installed.shell("python -m pytest -q -p no:cacheprovider examples")
    assert examples.returncode == 0, examples.stdout[-2000:]


def check_contract_diff(installed: Installed) -> None:
    done = installed.shell(f"lcphone contract diff {VENDOR / 'phone-system-v3.json'} {VENDOR / 'phone-system.json'}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_one_install_runs_the_nightly_workflow_and_every_documented_command(
    installed: Installed, staging: ServeProcess
) -> None:
    check_the_nightly_workflow(installed, staging)
    check_a_missing_secret_fails_the_job(installed)
    check_the_documented_commands(installed, staging)
    if (VENDOR / "phone-system-v3.json").is_file():  # the vendor's documents, where this checkout has them
        check_contract_diff(installed)
