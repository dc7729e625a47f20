"""The README taken literally: every code block in it runs as written, and a test here runs it.

Each fenced block is preceded by a marker, `<!-- readme: KIND -->` (an HTML comment: invisible once rendered),
and each kind has its test below: shell blocks run in bash against a served sandbox (placeholder targets such as
https://staging.example replaced by its URL, `...` secrets by its values, fixed ports by free ones), Python tests
run as pytest files, the JS recipe runs in Node.js, shown output is compared with what the command prints, and
what cannot run here (cron, benchmarks, the command-line synopsis) is parsed and checked against the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from test_vendor_sdk_js import js_sdk  # noqa: F401  (the fixture: the vendor's JS SDK, installed once)

from helpers import import_promised
from mockserver import Sandbox, SyncASGITransport
from mockserver.cli import build_parser
from mockserver.domain.scenario import Scenario
from mockserver.serve.process import ServeProcess

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # where `lcphone` and `pytest` are: the README's `.venv/bin/`
TOKEN = "pit-acme-full-access-0000000001"
LOCATION = "tDtDnQdgm2LXpyiqYvZ6"
SHOWN_URL = "http://127.0.0.1:8080"  # the address the README shows (the default port)

KINDS = {  # each kind of block, and the test that runs it
    "quick-start": "test_the_quick_start_commands_are_the_dev_scripts",
    "banner": "test_the_banner_is_the_one_lcphone_serve_prints",
    "walkthrough": "test_the_walkthrough_runs_as_written",
    "plugin-test": "test_the_plugin_example_fails_as_shown",
    "plugin-output": "test_the_plugin_example_fails_as_shown",
    "coverage": "test_the_coverage_command_prints_the_table_shown",
    "coverage-output": "test_the_coverage_command_prints_the_table_shown",
    "coverage-gate": "test_the_coverage_gate_fails_a_session_under_its_threshold",
    "sdk-python": "test_the_python_sdk_test_passes",
    "sdk-js": "test_the_js_sdk_recipe_runs_in_node",
    "suites": "test_the_suites_run_in_process_and_against_a_url",
    "verify": "test_verify_runs_as_shown",
    "cron": "test_the_cron_line_runs_verify",
    "proxy": "test_the_proxy_runs_as_shown",
    "proxy-record": "test_the_proxy_records_a_scenario_that_serve_starts_from",
    "postgres": "test_the_postgres_replica_block",
    "scenario": "test_the_scenario_example_is_a_valid_scenario",
    "python": "test_the_python_sandbox_block_runs",
    "bench": "test_the_bench_command_exists",
    "synopsis": "test_the_synopsis_lists_the_options_of_each_command",
}


@dataclass(frozen=True)
class Block:
    kind: str | None
    language: str
    text: str
    line: int  # of the opening fence

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")


def readme_blocks() -> list[Block]:
    found: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = re.fullmatch(r" {0,3}(`{3,}|~{3,})\s*(\S*).*", lines[index])  # a fence, as CommonMark has it
        if not opening:
            index += 1
            continue
        fence = opening.group(1)
        end = next((i for i in range(index + 1, len(lines)) if lines[i].strip().startswith(fence)), len(lines))
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = re.fullmatch(r"<!-- readme: ([a-z0-9-]+) -->", before.strip())
        text = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(marker.group(1) if marker else None, opening.group(2), text, index + 1))
        index = end + 1
    return found


def block(kind: str) -> str:
    texts = [b.text for b in readme_blocks() if b.kind == kind]
    assert len(texts) == 1, f"the README has {len(texts)} blocks marked `<!-- readme: {kind} -->`, not one"
    return texts[0]


def replaced(text: str, *pairs: tuple[str, str]) -> str:
    """`text` with each placeholder replaced; a placeholder the block no longer holds fails (keep this in step)."""
    for old, new in pairs:
        assert old in text, f"the README's block no longer holds {old!r}:\n{text}"
        text = text.replace(old, new)
    return text


def environment(**more: str) -> dict[str, str]:
    return {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), **more}


def run_sh(script: str, cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=environment(**env),
    )


class Launched(ServeProcess):
    """A long-running `lcphone ...` line of the README, started as written by the installed command (a fixed
    `--port` made 0, i.e. free), waited for until its banner ends, stopped with Ctrl-C."""

    def __init__(self, line: str, cwd: Path, **env: str) -> None:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "lcphone", line
        if "--port" in argv:
            argv[argv.index("--port") + 1] = "0"
        super().__init__(
            *argv[2:], port_given=True, command=argv[1], program=[str(BIN / "lcphone")], cwd=cwd,
            env=environment(**env),
        )  # fmt: skip

    @property
    def base_url(self) -> str:
        return super().base_url.replace("0.0.0.0", "127.0.0.1")

    def stop(self, timeout: float = 20) -> tuple[int, str, str]:
        return super().stop(timeout)


def strict_parser() -> argparse.ArgumentParser:
    """The CLI's parser, refusing abbreviated options (a README line must spell each option out)."""
    parser = build_parser()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        current.allow_abbrev = False
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return parser


@pytest.fixture(scope="module")
def served() -> Iterator[ServeProcess]:
    """`lcphone serve` with its defaults (on a free port), shared by the module's tests."""
    process = ServeProcess()
    yield process
    process.kill()
    process.process.communicate()


@pytest.fixture
def base_url(served: ServeProcess) -> str:
    """The shared sandbox's URL, reset to its scenario (the blocks that buy leave nothing behind)."""
    httpx.post(f"{served.base_url}/__admin/reset", timeout=10).raise_for_status()
    return served.base_url


# --- every block is marked, and every kind is run ---------------------------------------------------------------


def test_every_block_is_marked_with_a_kind_that_a_test_runs() -> None:
    blocks = readme_blocks()
    unmarked = [f"line {b.line}: {b.first_line}" for b in blocks if b.kind is None]
    assert not unmarked, "README blocks without a `<!-- readme: KIND -->` marker:\n" + "\n".join(unmarked)
    unknown = [f"line {b.line}: {b.kind}: {b.first_line}" for b in blocks if b.kind not in KINDS]
    assert not unknown, f"README blocks of a kind no test runs (known: {sorted(KINDS)}):\n" + "\n".join(unknown)
    assert {b.kind for b in blocks} == set(KINDS), "a kind no block has any more: remove it and its test"
    tests = {name for name, value in globals().items() if name.startswith("test_") and callable(value)}
    assert set(KINDS.values()) <= tests


def test_the_marker_check_names_an_unmarked_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "README.md"
    page.write_text(
        "Text.\n\n<!-- readme: bench -->\n```sh\n./dev bench\n```\n\n```sh\n\nrm -rf build\n```\n"
        "- a list item:\n\n  ~~~\n  cat notes\n  ~~~\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "README", page)
    with pytest.raises(AssertionError, match=r"line 8: rm -rf build\n  line 14: cat notes"):
        test_every_block_is_marked_with_a_kind_that_a_test_runs()


# --- getting started --------------------------------------------------------------------------------------------


def test_the_quick_start_commands_are_the_dev_scripts() -> None:
    script = (ROOT / "dev").read_text()
    usage = subprocess.run(["sh", str(ROOT / "dev")], capture_output=True, text=True, timeout=10)
    assert usage.returncode == 2  # no command: the usage, and nothing set up
    for line in block("quick-start").splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[0] == "./dev" and f"\n    {argv[1]})\n" in script, line
        assert f"./dev {argv[1]}" in usage.stdout, usage.stdout
    assert 'serve)\n        setup\n        exec "$VENV/bin/lcphone" serve "$@"' in script
    assert '-m pytest -n auto "$@"' in script


def test_the_banner_is_the_one_lcphone_serve_prints(served: ServeProcess, base_url: str) -> None:
    shown = block("banner").splitlines()
    assert served.banner == [line.replace(SHOWN_URL, served.base_url) for line in shown]
    # and its "Try:" line works as printed
    curl = next(line for line in served.banner if line.strip().startswith("curl "))
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    answer = json.loads(subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=10).stdout)
    assert answer["status"] == "success" and answer["data"]["total"] == 5


def test_the_walkthrough_runs_as_written(base_url: str, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    done = run_sh(block("walkthrough"), tmp_path, BASE=base_url)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"found \+1415\d{7} \(fingerprint [0-9a-f-]{36}\)", lines[0]), lines
    assert lines[1].startswith('{"status":"success","data":{"number":"+1415') and lines[1].endswith(" 201")
    assert lines[2] == "6" and lines[3] == "1"  # the total outside pools, and the bought number listed once
    assert lines[4] == "True" and lines[5] == "Sales rotation"
    assert lines[6] == (
        '{"statusCode":400,"message":"pageSize: 5000 is greater than the maximum of 1000","error":"Bad Request"} 400'
    )


# --- the pytest plugin ------------------------------------------------------------------------------------------


def test_the_plugin_example_fails_as_shown(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # the short summary's line is cut to the terminal's width
    for ci in ("CI", "BUILD_NUMBER"):  # as a user's terminal shows it: on CI, pytest cuts no line
        monkeypatch.delenv(ci, raising=False)
    example = block("plugin-test")
    name = re.match(r"# (test_\w+)\.py\n", example)
    assert name, "the example starts by naming its file"
    pytester.makepyfile(**{name.group(1): example})
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"{name.group(1)}.py")
    result.assert_outcomes(failed=1)
    printed = [line.rstrip() for line in result.stdout.lines]
    shown = block("plugin-output").splitlines()
    at = 0
    for line in shown:  # every line shown is printed, in this order
        assert line in printed[at:], f"shown but not printed: {line!r}\n" + "\n".join(printed)
        at = printed.index(line, at) + 1


def test_the_coverage_command_prints_the_table_shown(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    done = run_sh(replaced(block("coverage"), (".venv/bin/", f"{BIN}/")), tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    printed = done.stdout.splitlines()
    shown = block("coverage-output").splitlines()
    start = printed.index(shown[0])
    assert printed[start : start + len(shown)] == shown, "\n".join(printed[start:])


def test_the_coverage_gate_fails_a_session_under_its_threshold(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_lists(lcphone):\n"
        "    assert lcphone.client.get(f'/phone-system/numbers/location/{lcphone.location_id}').status_code == 200\n"
    )
    argv = shlex.split(block("coverage-gate"))
    assert argv[0] == "pytest"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *argv[1:])
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.assert_outcomes(passed=1)
    assert "is under --lcphone-coverage-fail-under 60%" in result.stdout.str(), result.stdout.str()
    assert (pytester.path / "coverage.md").read_text().startswith("**Contract coverage: ")


# --- the vendor's SDKs ------------------------------------------------------------------------------------------


def test_the_python_sdk_test_passes(pytester: pytest.Pytester) -> None:
    import_promised("highlevel", "gohighlevel-api-client==3.0.0")
    pytester.makepyfile(test_sdk=block("sdk-python"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_js_sdk_recipe_runs_in_node(js_sdk: Path, base_url: str, tmp_path: Path) -> None:  # noqa: F811
    recipe = block("sdk-js")
    assert recipe.startswith("// search.js")
    (tmp_path / "search.js").write_text(replaced(recipe, (f'"{SHOWN_URL}"', f'"{base_url}"')))
    done = subprocess.run(
        ["node", "search.js"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "NODE_PATH": str(js_sdk)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    numbers = done.stdout.split()
    assert numbers and all(re.fullmatch(r"\+1\d{10}", number) for number in numbers), done.stdout


# --- the suites, verify, the proxy ------------------------------------------------------------------------------

SMALL_BUDGETS = {"LCPHONE_SUITE_EXAMPLES": "4", "LCPHONE_MODEL_EXAMPLES": "2", "LCPHONE_MODEL_STEPS": "5"}


@pytest.mark.parametrize("where", ["in-process", "url"])
def test_the_suites_run_in_process_and_against_a_url(where: str, base_url: str, tmp_path: Path) -> None:
    """The block's first line (the sandbox in-process), then the rest (against a URL): two tests, for xdist."""
    first, *rest = block("suites").splitlines()
    assert first.endswith("# the sandbox in-process"), first
    if where == "in-process":
        script = replaced(first, (".venv/bin/", f"{BIN}/"))
    else:
        script = replaced(
            "\n".join(rest),
            (".venv/bin/", f"{BIN}/"),
            ("LCPHONE_TOKEN=...", f"LCPHONE_TOKEN={TOKEN}"),
            ("https://staging.example", base_url),
            ("LOCATION_ID", LOCATION),
        )
    done = run_sh(script, tmp_path, timeout=180, **SMALL_BUDGETS)  # the README's budgets, small
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"^=+ \d+ passed(, \d+ skipped)? in ", done.stdout, re.M), done.stdout[-3000:]


def verify_variables(url: str) -> tuple[str, ...]:
    return (
        ("LCPHONE_TOKEN=...", f"LCPHONE_TOKEN={TOKEN}"),
        ("LCPHONE_LOCATION=...", f"LCPHONE_LOCATION={LOCATION}"),
        ("https://staging.example", url),
    )


def test_verify_runs_as_shown(base_url: str, tmp_path: Path) -> None:
    text = block("verify")
    done = run_sh(replaced(text, *verify_variables(base_url)), tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "lcphone verify: conforms to the contract" in done.stdout
    assert "# " in (tmp_path / "verify-report.md").read_text()
    assert "<testsuite" in (tmp_path / "verify-report.xml").read_text()


def test_the_cron_line_runs_verify(base_url: str, tmp_path: Path) -> None:
    (line,) = block("cron").splitlines()
    fields = line.split(None, 5)
    assert all(re.fullmatch(r"[\d*/,-]+", field) for field in fields[:5]), fields  # minute hour day month weekday
    command = fields[5]
    steps = [step.strip() for step in re.split(r"&&|\|\|", command)]
    assert steps[0] == "cd /srv/lcphone" and steps[1] == ". ./secrets.env", steps
    assert steps[3].startswith("mail -s "), steps
    # cron passes `%` escaped; bash runs the rest as written, from a checkout, the secrets being in the environment
    verify = replaced(steps[2], ("\\%", "%"), ("/var/reports/", f"{tmp_path}/"))
    argv = shlex.split(verify.replace("$(date +%F)", "DATE"))
    assert argv[0] == ".venv/bin/lcphone"
    strict_parser().parse_args(argv[1:])  # every option exists
    done = run_sh(
        verify.replace(".venv/bin/", f"{BIN}/"),
        tmp_path,
        timeout=120,
        LCPHONE_BASE_URL=base_url,
        LCPHONE_TOKEN=TOKEN,
        LCPHONE_LOCATION=LOCATION,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    (report,) = tmp_path.glob("lcphone-*.md")
    assert re.fullmatch(r"lcphone-\d{4}-\d\d-\d\d\.md", report.name)


def test_the_nightly_workflow_is_the_one_described() -> None:
    """The CI job the README names, beside the cron line: its secrets, and an lcphone command that exists
    (tests/test_installed.py runs its steps)."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly-verify.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    readme = README.read_text()
    secrets = {
        re.fullmatch(r"\$\{\{ secrets\.(\w+) \}\}", value).group(1)  # type: ignore[union-attr]
        for step in steps
        for value in step.get("env", {}).values()
    }
    assert secrets == {"LCPHONE_STAGING_URL", "LCPHONE_STAGING_TOKEN", "LCPHONE_STAGING_LOCATION"}
    assert all(f"`{secret}`" in readme for secret in secrets)
    verify = [step["run"] for step in steps if step.get("run", "").startswith("lcphone verify")]
    assert len(verify) == 1
    strict_parser().parse_args(shlex.split(verify[0])[1:])
    assert any("--pyargs mockserver.suites" in step.get("run", "") for step in steps)


def test_the_drift_demo_exits_1(tmp_path: Path) -> None:
    """Not a block but two commands in a sentence, which a newcomer types all the same."""
    sentence = re.search(r"To see it catch drift: `([^`]+)`, then `([^`]+)` \(exit 1\)", README.read_text())
    assert sentence, "the README shows verify catching a sandbox that drifts"
    serve, verify = (" ".join(command.split()) for command in sentence.groups())
    drifting = Launched(serve, tmp_path)
    try:
        done = run_sh(replaced(verify, (SHOWN_URL, drifting.base_url)), tmp_path, timeout=120)
    finally:
        drifting.stop()
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "legacy field `isUnderGhl`" in done.stdout and "lcphone verify: DRIFTED" in done.stdout, done.stdout


def test_the_proxy_runs_as_shown(base_url: str, tmp_path: Path) -> None:
    (line,) = block("proxy").splitlines()
    proxy = Launched(replaced(line, ("https://staging.example", base_url)), tmp_path)
    try:
        answer = httpx.get(
            f"{proxy.base_url}/phone-system/numbers/location/{LOCATION}",
            headers={"Authorization": f"Bearer {TOKEN}", "Version": "v3"},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["data"]["total"] == 5
    finally:
        code, out, err = proxy.stop()
    assert code == 0, out + err
    assert (tmp_path / "proxy-report.md").is_file() and (tmp_path / "proxy-report.xml").is_file(), out


def test_the_proxy_records_a_scenario_that_serve_starts_from(base_url: str, tmp_path: Path) -> None:
    record, serve = block("proxy-record").splitlines()
    proxy = Launched(replaced(record, ("https://staging.example", base_url)), tmp_path)
    listing = f"/phone-system/numbers/location/{LOCATION}"
    auth = {"Authorization": f"Bearer {TOKEN}", "Version": "v3"}
    try:
        seen = httpx.get(proxy.base_url + listing, params={"skipNumberPool": "false"}, headers=auth, timeout=10)
        assert seen.status_code == 200
    finally:
        code, out, err = proxy.stop()
    assert code == 0, out + err
    assert (tmp_path / "staging.yaml").is_file(), out + err
    copy = Launched(serve, tmp_path)
    assert copy.value("location id") == LOCATION
    auth["Authorization"] = f"Bearer {copy.value('token')}"  # tokens are never recorded: the banner gives one
    try:
        again = httpx.get(copy.base_url + listing, params={"skipNumberPool": "false"}, headers=auth, timeout=10)
    finally:
        copy.stop()
    assert again.json()["data"]["numbers"] == seen.json()["data"]["numbers"]


# --- running it for days ----------------------------------------------------------------------------------------


def test_the_postgres_replica_block(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    install, *lines = block("postgres").splitlines()
    extra = re.fullmatch(r"pip install '/path/to/lcphone\[(\w+)\]'\s+#.*", install)
    assert extra, install
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("psycopg") for requirement in extras[extra.group(1)]), extras
    exports = dict(re.match(r"export (\w+)=(\S+)", line).groups() for line in lines[:2])  # type: ignore[union-attr]
    url = urllib.parse.urlsplit(exports["LCPHONE_STATE"].strip("'"))
    assert url.scheme == "postgresql" and url.hostname and url.port and url.path.strip("/"), url
    assert exports["LCPHONE_ADMIN_KEY"] == "..."
    argv = shlex.split(lines[2], comments=True)
    assert argv[:2] == ["lcphone", "serve"]
    strict_parser().parse_args(argv[1:])  # every option exists
    cluster_url = request.getfixturevalue("postgres_url")  # skipped, saying why, where no cluster can be started
    replica = Launched(lines[2], tmp_path, LCPHONE_STATE=cluster_url, LCPHONE_ADMIN_KEY="readme-admin-key")
    try:
        health = httpx.get(f"{replica.base_url}/__admin/health", headers={"X-Admin-Key": "readme-admin-key"})
    finally:
        replica.stop()
    assert health.status_code == 200 and "postgres" in json.dumps(health.json()["store"]).lower(), health.text


def test_the_scenario_example_is_a_valid_scenario(tmp_path: Path) -> None:
    text = block("scenario")
    scenario = Scenario.from_yaml(text)  # checked against the scenario schema, whole
    assert scenario.name == "my-scenario"
    path = tmp_path / "my-scenario.yaml"
    path.write_text(text)
    sandbox = Sandbox(scenario=str(path))
    with httpx.Client(transport=SyncASGITransport(sandbox.app), base_url="http://sandbox") as client:
        listed = client.get(
            f"/phone-system/numbers/location/{LOCATION}",
            params={"skipNumberPool": "false", "includeRcsSenderIds": "true"},
            headers={"Authorization": f"Bearer {TOKEN}", "Version": "v3"},
        )
    assert listed.status_code == 200, listed.text
    data = listed.json()["data"]
    assert data["total"] == 6 and "+14155550199" in [n["phoneNumber"] for n in data["numbers"]]
    assert data["rcsSenderIds"], data
    assert yaml.safe_load(text)["agencyTokens"][0]["value"].startswith("pit-agency-")


def test_the_python_sandbox_block_runs() -> None:
    text = block("python")
    namespace: dict = {}
    exec(compile(text, "README.md", "exec"), namespace)
    client = namespace["client"]
    pools = client.get("/phone-system/number-pools", params={"locationId": LOCATION}, headers=auth_headers())
    assert pools.status_code == 200 and pools.json()["data"][0]["name"] == "Sales rotation"
    # the async variant in its comment builds as written
    comment = re.search(r"# async code: (.*)", text)
    assert comment
    async_client = eval(comment.group(1), namespace)
    assert isinstance(async_client, httpx.AsyncClient)
    client.close()


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Version": "v3"}


def test_the_bench_command_exists() -> None:
    (line,) = block("bench").splitlines()
    command, comment = line.split("#", 1)
    assert shlex.split(command) == ["./dev", "bench"]
    assert "\n    bench)\n" in (ROOT / "dev").read_text()
    assert "./dev bench --quick" in comment
    assert '"--quick"' in (ROOT / "bench" / "run.py").read_text()  # benchmarks are not run here


def test_the_synopsis_lists_the_options_of_each_command() -> None:
    commands: dict[str, str] = {}
    for line in block("synopsis").splitlines():
        if line.startswith("lcphone"):
            words = line.split()[1:]
            name = " ".join(words[: next((i for i, w in enumerate(words) if not w.isalpha()), len(words))])
            commands[name] = commands.get(name, "") + line
        else:
            commands[name] += line
    parser = build_parser()
    assert set(commands) == {"serve", "verify", "proxy", "contract diff", ""}, commands.keys()
    assert commands[""].split() == ["lcphone", "--version"] and "--version" in parser._option_string_actions
    for name, synopsis in commands.items():
        if not name:
            continue
        command = parser
        for word in name.split():
            actions = next(a for a in command._actions if a.__class__.__name__ == "_SubParsersAction")
            command = actions.choices[word]
        options = {flag for flag in command._option_string_actions if flag.startswith("--")} - {"--help"}
        shown = set(re.findall(r"--[a-z][a-z0-9-]*", synopsis))
        assert shown <= options, f"lcphone {name}: shown but not an option: {sorted(shown - options)}"
        assert options <= shown, f"lcphone {name}: options the synopsis leaves out: {sorted(options - shown)}"


def test_every_inline_lcphone_command_with_options_parses() -> None:
    """Beyond the blocks: each `lcphone ... --option` the prose shows is a command line the CLI accepts."""
    prose = re.sub(r"^```.*?^```", "", README.read_text(), flags=re.S | re.M).replace("\n", " ")
    spans = [" ".join(s.split()) for s in re.findall(r"`(lcphone [^`]*--[^`]+)`", prose)]
    assert len(spans) >= 8, spans
    refused = []
    for span in spans:
        argv = shlex.split(span)[1:]
        if "--help" in argv or any(re.fullmatch(r"[A-Z_]+(\.\.\.)?", word) for word in argv):
            continue  # `lcphone serve --help`, and placeholders (`--drift MODE`)
        try:
            strict_parser().parse_args(argv)
        except SystemExit:
            refused.append(span)
    assert not refused, f"the README shows command lines lcphone refuses: {refused}"
