"""lcphone's pytest plugin (registered through the `pytest11` entry point).

Fixtures: `lcphone_server` (session: a sandbox on a real socket, or the remote
API) and `lcphone` (per test: the same target reset to its scenario, with a
client, tokens, seeding helpers and the journal). A test whose client sent a
request outside the contract fails, unless marked `lcphone_allow_violations`; against a remote API, so does a
test that got an answer outside the contract, unless marked `lcphone_allow_drift`.
The work is done in `mockserver.testing.harness`; this module only wires it to pytest.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

_TARGET = pytest.StashKey[Any]()
_MARK = pytest.StashKey[int]()
_TAG = pytest.StashKey[str]()
_COVERAGE = pytest.StashKey[Any]()  # the session's SessionCoverage, when asked for
_COVERAGE_SETTINGS = pytest.StashKey[tuple[bool, "str | None", "float | None"]]()  # show, report, fail-under
_STRAYS = pytest.StashKey[list[str]]()  # requests of a test that arrived while another ran
_TAGS = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lcphone", "lcphone: LC Phone API sandbox")
    group.addoption(
        "--lcphone-seed", type=int, default=None, help="seed of the sandbox's inventory and ids (default 1)"
    )
    group.addoption("--lcphone-scenario", default=None, help="scenario file (or shipped name) the sandbox starts from")
    group.addoption(
        "--lcphone-base-url",
        default=None,
        help="run the lcphone fixtures against this remote API instead of a sandbox (env LCPHONE_BASE_URL)",
    )
    group.addoption("--lcphone-token", default=None, help="token for the remote API (env LCPHONE_TOKEN)")
    group.addoption("--lcphone-location", default=None, help="location id for the remote API (env LCPHONE_LOCATION)")
    group.addoption(
        "--lcphone-allow-purchase",
        action="store_true",
        default=None,
        help="let tests purchase numbers on the remote API (it costs money)",
    )
    group.addoption(
        "--lcphone-drift",
        action="append",
        default=None,
        metavar="MODE",
        help="make the sandbox drift from the contract on purpose (repeatable; see `lcphone serve --help`)",
    )
    group.addoption(
        "--lcphone-no-conformance",
        action="store_true",
        default=None,
        help="do not fail tests whose client broke the contract",
    )
    group.addoption(
        "--lcphone-coverage",
        action="store_true",
        default=None,
        help="at the end, show which of the API's outcomes (per operation and version) the tests received",
    )
    group.addoption(
        "--lcphone-coverage-report",
        default=None,
        metavar="PATH",
        help="write the contract coverage to PATH: JSON (.json) or Markdown (.md)",
    )
    group.addoption(
        "--lcphone-coverage-fail-under",
        default=None,
        metavar="PCT",
        help="fail the session when the contract coverage is under PCT percent",
    )
    parser.addini("lcphone_seed", "seed of the sandbox (default 1)", default=None)
    parser.addini("lcphone_coverage", "show the contract coverage at the end", type="bool", default=False)
    parser.addini("lcphone_coverage_report", "write the contract coverage here (.json or .md)", default=None)
    parser.addini("lcphone_coverage_fail_under", "fail the session under this contract coverage (%)", default=None)
    parser.addini("lcphone_scenario", "scenario the sandbox starts from", default=None)
    parser.addini("lcphone_base_url", "remote API for the lcphone fixtures", default=None)
    parser.addini("lcphone_allow_purchase", "allow purchases on the remote API", type="bool", default=False)
    parser.addini("lcphone_conformance", "fail tests whose client broke the contract", type="bool", default=True)


TARGET_SETTINGS = (
    ("lcphone_base_url", "--lcphone-base-url", "LCPHONE_BASE_URL"),
    ("lcphone_token", "--lcphone-token", "LCPHONE_TOKEN"),
    ("lcphone_location", "--lcphone-location", "LCPHONE_LOCATION"),
)


def _refuse_empty_target_settings(config: pytest.Config) -> None:
    """A target setting given but empty (a CI secret that is missing) must not quietly test the sandbox."""
    for option, flag, env in TARGET_SETTINGS:
        value = config.getoption(option)
        if value is not None and not value.strip():
            raise pytest.UsageError(f"lcphone: {flag} is empty: give the remote API's value, or leave it out")
        if value is None and env in os.environ and not os.environ[env].strip():
            raise pytest.UsageError(
                f"lcphone: {env} is set but empty (a CI secret that is missing?): give it a value, or unset it "
                "to run against the sandbox"
            )


def pytest_configure(config: pytest.Config) -> None:
    _refuse_empty_target_settings(config)
    _configure_coverage(config)
    config.stash[_STRAYS] = []
    config.addinivalue_line(
        "markers", "lcphone_allow_violations: this test sends requests outside the contract on purpose"
    )
    config.addinivalue_line(
        "markers", "lcphone_allow_drift: the remote API's answers to this test break the contract, knowingly"
    )
    config.addinivalue_line(
        "markers",
        "lcphone(scenario=None, rate_limit=None): start this test's sandbox from another "
        "scenario, and/or with rate limits enforced (rate_limit={'burst': 5, 'window_ms': 1000})",
    )


def _setting(config: pytest.Config, option: str, ini: str | None = None, env: str | None = None) -> Any:
    value = config.getoption(option)
    if value is None and env:
        value = os.environ.get(env) or None
    if value is None and ini:
        value = config.getini(ini)
    return value


def _configure_coverage(config: pytest.Config) -> None:
    show = bool(_setting(config, "lcphone_coverage", "lcphone_coverage"))
    report = _setting(config, "lcphone_coverage_report", "lcphone_coverage_report") or None
    fail_under = _setting(config, "lcphone_coverage_fail_under", "lcphone_coverage_fail_under") or None
    if not (show or report or fail_under):
        return
    from mockserver.testing.coverage import CoverageSettingError, SessionCoverage, report_path, threshold

    try:
        config.stash[_COVERAGE_SETTINGS] = (show, report_path(report), threshold(fail_under))
    except CoverageSettingError as error:
        raise pytest.UsageError(f"lcphone: {error}") from None
    config.stash[_COVERAGE] = SessionCoverage()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_WorkersCoverage(config), "lcphone-coverage-xdist")


class _WorkersCoverage:
    """Under pytest-xdist: each worker's coverage, merged into the controller's when the worker finishes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        found = getattr(node, "workeroutput", {}).get("lcphone_coverage")
        if found:
            self.config.stash[_COVERAGE].report.merge(json.loads(found))


def settings_from_config(config: pytest.Config):
    """The target the options, ini settings and environment describe."""
    from mockserver.testing.harness import HarnessSettings

    seed = _setting(config, "lcphone_seed", "lcphone_seed")
    return HarnessSettings(
        seed=int(seed) if seed not in (None, "") else None,
        scenario=_setting(config, "lcphone_scenario", "lcphone_scenario") or None,
        base_url=_setting(config, "lcphone_base_url", "lcphone_base_url", "LCPHONE_BASE_URL") or None,
        token=_setting(config, "lcphone_token", env="LCPHONE_TOKEN"),
        location_id=_setting(config, "lcphone_location", env="LCPHONE_LOCATION"),
        allow_purchase=bool(_setting(config, "lcphone_allow_purchase", "lcphone_allow_purchase")),
        drift=tuple(config.getoption("lcphone_drift") or ()),
    )


def target_for(config: pytest.Config, settings=None):
    """The session's target, created on first use (by a fixture, or by a suite at collection)."""
    target = config.stash.get(_TARGET, None)
    if target is None:
        from mockserver.control.drift import DriftError
        from mockserver.testing.harness import LocalTarget, RemoteTarget, TargetUnavailable

        settings = settings or settings_from_config(config)
        try:
            target = RemoteTarget(settings) if settings.remote else LocalTarget(settings)
        except (TargetUnavailable, DriftError) as error:
            raise pytest.UsageError(f"lcphone: {error}") from None
        config.stash[_TARGET] = target
    return target


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(_TARGET, None)
    if target is not None:
        target.close()
        del config.stash[_TARGET]


@pytest.fixture(scope="session")
def lcphone_settings(pytestconfig: pytest.Config):
    """What the lcphone fixtures run against; override it in a conftest.py to configure them in code."""
    return settings_from_config(pytestconfig)


@pytest.fixture(scope="session")
def _lcphone_target(lcphone_settings, pytestconfig: pytest.Config) -> Any:
    try:
        return target_for(pytestconfig, lcphone_settings)
    except pytest.UsageError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def lcphone_server(_lcphone_target):
    """The session's sandbox on a real socket (127.0.0.1, a free port), or the remote API.

    `.base_url`, and for a sandbox the admin operations: `.reset()`, `.mint_token()`,
    `.load_scenario()`, `.add_numbers()`, `.add_pool()`, `.sandbox`.
    """
    assert _lcphone_target.base_url  # asking for it makes a sandbox start listening
    return _lcphone_target


@pytest.fixture
def lcphone(_lcphone_target, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A sandbox reset to its scenario for this test (sharing its state with `lcphone_server`)."""
    from mockserver.testing.harness import LcPhone, TargetUnavailable

    _lcphone_target.reset()
    handle = LcPhone(_lcphone_target, _lcphone_target.journal_mark(), request.node.stash.get(_TAG, None))
    marker = request.node.get_closest_marker("lcphone")
    if marker is not None:
        try:
            if marker.kwargs.get("scenario") is not None:
                handle.load_scenario(marker.kwargs["scenario"])
            if marker.kwargs.get("rate_limit") is not None:
                handle.rate_limits(**marker.kwargs["rate_limit"])
        except TargetUnavailable as error:
            pytest.skip(str(error))
    yield handle
    handle.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    target = item.config.stash.get(_TARGET, None)
    item.stash[_MARK] = target.journal_mark() if target is not None else 0
    item.stash[_TAG] = f"t{next(_TAGS)}"
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    result = yield
    coverage, target = item.config.stash.get(_COVERAGE, None), item.config.stash.get(_TARGET, None)
    if coverage is not None and target is not None:
        on_purpose = item.get_closest_marker("lcphone_allow_violations") is not None
        coverage.collect(target.journal_since(item.stash.get(_MARK, 0)), on_purpose)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    from mockserver.testing.harness import TargetUnavailable
    from mockserver.testing.sdk import SdkMissing

    try:
        result = yield
    except (TargetUnavailable, SdkMissing) as error:
        pytest.skip(str(error))
    target = item.config.stash.get(_TARGET, None)
    if target is None or not ({"lcphone", "lcphone_server"} & set(getattr(item, "fixturenames", ()))):
        return result
    crashes = target.crashes()
    if crashes:
        pytest.fail(f"lcphone: the sandbox crashed while serving this test: {crashes[0]!r}", pytrace=False)
    refusals = getattr(target, "refusals", [])
    if refusals:
        pytest.fail(
            "lcphone: this test tried to purchase on a remote target without --lcphone-allow-purchase:\n  "
            + "\n  ".join(refusals),
            pytrace=False,
        )
    conformance = not item.config.getoption("lcphone_no_conformance") and item.config.getini("lcphone_conformance")
    allow_violations = item.get_closest_marker("lcphone_allow_violations") is not None
    allow_drift = item.get_closest_marker("lcphone_allow_drift") is not None
    if conformance and not (allow_violations and allow_drift):
        from mockserver.testing.harness import format_violations

        entries, dropped = target.violations_since(item.stash.get(_MARK, 0))
        mine, tag = [], item.stash.get(_TAG, None)
        for entry in entries:
            if allow_violations:
                entry = _without_violations(entry)
            elif allow_drift:
                entry = _without_drift(entry)
            if not entry.broken:
                continue
            if entry.request.test in (None, tag):
                mine.append(entry)
            else:  # sent by another test's client, while this one ran: a thread that test left running
                item.config.stash[_STRAYS].append(f"{entry.request_line} -> {entry.status} (while {item.nodeid} ran)")
        if mine:
            pytest.fail(format_violations(mine, 0 if allow_violations else dropped), pytrace=False)
    return result


def _without_violations(entry: Any) -> Any:
    """The entry as if its request had kept the contract (the test breaks it on purpose)."""
    return dataclasses.replace(entry, violations=())


def _without_drift(entry: Any) -> Any:
    """The entry as if the answer had kept the contract (the drift is known)."""
    return dataclasses.replace(entry, answer=None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    coverage = config.stash.get(_COVERAGE, None)
    if coverage is None:
        return
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller reports
        config.workeroutput["lcphone_coverage"] = json.dumps(coverage.report.to_seen())
        return
    show, report, fail_under = config.stash[_COVERAGE_SETTINGS]
    if report:
        coverage.write(report)
    if coverage.verdict(fail_under) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    strays = config.stash.get(_STRAYS, [])
    if strays:
        terminalreporter.section("lcphone: requests outside the contract from tests that had ended")
        for line in strays[:20]:
            terminalreporter.line(f"  {line}")
    coverage = config.stash.get(_COVERAGE, None)
    if coverage is None or hasattr(config, "workeroutput"):
        return
    show, report, fail_under = config.stash[_COVERAGE_SETTINGS]
    verdict = coverage.verdict(fail_under)
    if show or verdict:
        terminalreporter.section("lcphone contract coverage")
        terminalreporter.line(coverage.report.table())
    if report:
        terminalreporter.line(f"lcphone: contract coverage written to {report}")
    if verdict:
        terminalreporter.line(verdict, red=True)
