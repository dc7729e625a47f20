"""Where the time goes: py-spy samples `lcphone serve` while wrk loads one operation, and the functions that
hold the most samples (own time, and inclusive time of lcphone's own functions) are written per operation.

    python bench/hotspots.py [--seconds 4] [--out FILE] [--source CHECKOUT]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from operations import OPERATIONS, Operation
from peers import Running, lcphone
from throughput import PurchaseBodies, load

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:]*)(?::\d+)?\)$")


def _where(frame: str) -> str:
    found = FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    path = found["file"]
    short = path.split("site-packages/")[-1] if "site-packages/" in path else path.split("/")[-1]
    if "mockserver/" in path:
        short = "mockserver/" + path.split("mockserver/")[-1]
    return f"{found['function']} ({short})"


def top_costs(raw: str, top: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(own time, inclusive time of lcphone's functions): shares of all samples, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_where(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            if "(mockserver/" in name:
                inclusive[name] += count
    if total == 0:
        return [], []
    # The frames every request passes through (the command, the middleware) say nothing: left out.
    widest = max(inclusive.values(), default=0)
    telling = Counter({name: count for name, count in inclusive.items() if count < 0.9 * widest})
    return (
        [(name, count / total) for name, count in own.most_common(top)],
        [(name, count / total) for name, count in telling.most_common(top)],
    )


def profile(running: Running, operation: Operation, seconds: float, bodies: PurchaseBodies, top: int = 8):
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "stacks.txt"
        loader = threading.Thread(target=load, args=(running, operation, seconds + 3, bodies))
        loader.start()
        subprocess.run(
            [spy, "record", "--pid", str(running.server.pid), "--duration", str(round(seconds)), "--rate", "250",
             "--format", "raw", "--output", str(output), "--nonblocking"],
            capture_output=True,
            check=True,
        )  # fmt: skip
        loader.join()
        return top_costs(output.read_text(), top)


def report(seconds: float = 4, top: int = 8, source: Path | None = None) -> list[str]:
    """Markdown: the top costs of each operation on `lcphone serve` (memory state, one worker); of the lcphone
    in `source` (a checkout) when given."""
    lines = []
    bodies = PurchaseBodies()
    try:
        for operation in OPERATIONS:
            with lcphone(source=source) as running:  # a fresh sandbox each: purchases buy from a full inventory
                own, inclusive = profile(running, operation, seconds, bodies, top)
            lines += [f"**{operation.title}**", "", "| own time | share | inclusive (lcphone's code) | share |",
                      "|---|---|---|---|"]  # fmt: skip
            for index in range(max(len(own), len(inclusive))):
                left = own[index] if index < len(own) else ("", 0.0)
                right = inclusive[index] if index < len(inclusive) else ("", 0.0)
                lines.append(f"| `{left[0]}` | {left[1]:.0%} | `{right[0]}` | {right[1]:.0%} |")
            lines.append("")
    finally:
        bodies.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--source", type=Path, help="profile the lcphone of this checkout (a before-and-after)")
    args = parser.parse_args()
    text = "\n".join(report(args.seconds, source=args.source)) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
