"""How fast the command starts: `htx-keys --help` and each command's --help, against
`python -c "import click"` (the baseline: nothing can start faster than its own parser).

Runs alternate (baseline, then each command line) so that load on a shared machine falls on
both alike; prints each median and its ratio to the baseline's. The goal is 5x or less.
Run: .venv/bin/python bench/cli_start.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: tuple[list[str], ...] = (
    [],
    ["provision"],
    ["keys", "list"],
    ["keys", "rotate"],
    ["exec"],
    ["doctor"],
    ["record"],
    ["account", "set"],
    ["sandbox"],
    ["demo"],
)
GOAL = 5.0


def htx_keys() -> list[str]:
    script = Path(sys.executable).parent / "htx-keys"
    return [str(script)] if script.exists() else [sys.executable, "-m", "htx_keys"]


def seconds(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(rounds: int) -> int:
    baseline_argv = [sys.executable, "-c", "import click"]
    lines = {"import click": baseline_argv}
    lines.update(
        {" ".join(["htx-keys", *c, "--help"]): [*htx_keys(), *c, "--help"] for c in COMMANDS}
    )
    times: dict[str, list[float]] = {name: [] for name in lines}
    for argv in lines.values():  # warm the file cache and .pyc files first
        seconds(argv)
    for _ in range(rounds):
        for name, argv in lines.items():
            times[name].append(seconds(argv))
    base = statistics.median(times["import click"])
    worst = 0.0
    print(f"{'command':<32} {'median':>8} {'ratio':>6}")
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / base
        if name != "import click":
            worst = max(worst, ratio)
        print(f"{name:<32} {median * 1000:>6.0f} ms {ratio:>5.2f}x")
    print(f"slowest --help: {worst:.2f}x `import click` (goal <= {GOAL:.0f}x), {rounds} rounds")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 15))
