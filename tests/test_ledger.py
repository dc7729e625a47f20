"""The fidelity ledger cannot rot: every entry is proved on the sandbox by a test and confirmed against a real API
by a verify check (or says why none can run); every drift mode breaks an entry that verify checks; the README
lists every entry, as the list of what a client's tests may rely on."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mockserver.contract.behaviours import ledger
from mockserver.contract.files import decisions_path
from mockserver.contract.operations import registry as operations
from mockserver.contract.versions import registry as versions
from mockserver.control.drift import DRIFT_MODES
from mockserver.verify import runner  # noqa: F401  (registers every check)
from mockserver.verify.checks import known_checks

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = list(ledger())


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.id for entry in ENTRIES])
def test_each_entry_is_proved_on_the_sandbox_and_checked_by_verify(entry) -> None:
    file, _, function = entry.sandbox.partition("::")
    assert (ROOT / file).is_file(), f"{entry.id}: no test file {file}"
    assert function in _test_functions(ROOT / file), f"{entry.id}: {file} has no test {function}"
    if entry.verify is not None:
        assert entry.verify in known_checks(), f"{entry.id}: verify has no check {entry.verify!r}"
    else:
        assert entry.not_verified and len(entry.not_verified) > 20, f"{entry.id}: say why no check runs"
    assert all(name in DRIFT_MODES for name in entry.drift), entry.drift
    assert entry.operations is None or all(op in operations() for op in entry.operations), entry.operations
    assert entry.versions is None or all(v in versions() for v in entry.versions), entry.versions
    assert re.search(rf"^## {entry.decision}\.", decisions_path().read_text(), re.M), entry.decision
    assert entry.sees.endswith(".") and len(entry.sees) < 300


def test_every_drift_mode_breaks_an_entry_that_verify_checks() -> None:
    unchecked = [
        name
        for name, mode in DRIFT_MODES.items()
        if not mode.benign and not any(entry.verify for entry in ledger().broken_by(name))
    ]
    assert not unchecked, f"drift modes no ledger entry that verify checks lists: {unchecked}"


def test_every_check_of_verify_confirms_an_entry() -> None:
    assert known_checks() == {entry.verify for entry in ENTRIES if entry.verify}


def test_the_readme_lists_every_entry_as_what_tests_may_rely_on() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- ledger -->")[1].split("<!-- /ledger -->")[0]
    listed = re.findall(r"^\| `([a-z.-]+)` \|", section, re.M)
    assert listed == [entry.id for entry in ENTRIES]
