"""What the lcphone fixtures add to a test run: N tests with a fixture against the same N tests without.

    python bench/fixture_cost.py [--tests 500] [--repeat 3]

Each variant is a generated test file run by pytest in a subprocess; the
figure is (variant - baseline) / N, the best of --repeat runs. The baseline is
measured in the same run, so that the ratios hold on any machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTIVE = '"/phone-system/numbers/location/" + {handle}.location_id'

VARIANTS = {
    "baseline (no fixture)": "def test_{i}():\n    assert True\n",
    "lcphone (reset per test)": "def test_{i}(lcphone):\n    assert lcphone.location_id\n",
    "lcphone + one in-process request": (
        "def test_{i}(lcphone):\n"
        "    assert lcphone.client.get(" + ACTIVE.format(handle="lcphone") + ").status_code == 200\n"
    ),
    "lcphone + one in-process request, --lcphone-coverage": (
        "def test_{i}(lcphone):\n"
        "    assert lcphone.client.get(" + ACTIVE.format(handle="lcphone") + ").status_code == 200\n"
    ),
    "lcphone_server + one request over the socket": (
        "import httpx\n"
        "http = httpx.Client()  # one connection pool, as a client under test would keep\n"
        "def test_{i}(lcphone_server, lcphone):\n"
        "    assert http.get(lcphone.base_url + "
        + ACTIVE.format(handle="lcphone")
        + ", headers=lcphone.headers()).status_code == 200\n"
    ),
}


ARGUMENTS = {"lcphone + one in-process request, --lcphone-coverage": ["--lcphone-coverage"]}


def run_variant(template: str, tests: int, workdir: Path, arguments: tuple[str, ...] | list[str] = ()) -> float:
    body = template.split("def test_{i}")[0]
    body += "".join(f"def test_{i}" + template.split("def test_{i}", 1)[1].format(i=i) for i in range(tests))
    path = workdir / "test_generated.py"
    path.write_text(body)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments, str(path)],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the benchmark's tests failed:\n{result.stdout[-2000:]}")
    return elapsed


def measure(tests: int, repeat: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "pytest.ini").write_text("[pytest]\n")
        return [
            (name, min(run_variant(template, tests, workdir, ARGUMENTS.get(name, [])) for _ in range(repeat)))
            for name, template in VARIANTS.items()
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = measure(args.tests, args.repeat)
    baseline = results[0][1]
    print(f"{args.tests} tests per variant, best of {args.repeat} runs")
    print(f"{'variant':48} {'wall s':>8} {'added ms/test':>14} {'x baseline':>11}")
    for name, elapsed in results:
        added = (elapsed - baseline) / args.tests * 1000
        print(f"{name:48} {elapsed:8.2f} {added:14.2f} {elapsed / baseline:11.2f}")


if __name__ == "__main__":
    main()
