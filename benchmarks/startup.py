"""Wall time of short commands, run in alternation so that they share the machine's drift.

    python benchmarks/startup.py --runs 10 \
        "seqtool -w WS translate -m enja 'i can't swim'" \
        "/tmp/other-venv/bin/seqtool -w WS translate -m enja 'i can't swim'"

Each command runs once untimed (to warm the page cache), then the commands take turns, --runs times each.
Prints one JSON line per command: median, min and max seconds, and the exit code of its last run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import time


def timed(argv: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0, done.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("commands", nargs="+", help="shell-quoted commands")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    argvs = [shlex.split(c) for c in args.commands]
    for argv in argvs:
        timed(argv)
    seconds: list[list[float]] = [[] for _ in argvs]
    codes = [0] * len(argvs)
    for _ in range(args.runs):
        for i, argv in enumerate(argvs):
            s, codes[i] = timed(argv)
            seconds[i].append(s)
    for command, times, code in zip(args.commands, seconds, codes, strict=True):
        print(json.dumps({"command": command, "median_s": round(statistics.median(times), 3),
                          "min_s": round(min(times), 3), "max_s": round(max(times), 3), "rc": code}))  # fmt: skip


if __name__ == "__main__":
    main()
