"""CTranslate2 int8 vs seqtool's torch fp32 and bf16 (results in docs/benchmarks.md).

    python benchmarks/ct2_bench.py --model NAME -w WS [--limit 500] [--rounds 3] [--threads 2]
                                   [--src dev.en --ref dev.ja] [--startup-runs 10] [--student NAME]

On a trained Transformer translator NAME (e.g. the 60-minute one of benchmarks/mt_quality.sh), in one
run so that only same-run ratios are compared on a shared CPU:

1. decoding: the first --limit dev sentences, beam 5, --threads threads, with the torch fp32 model, its
   bf16 copy (`seqtool compress --quantize bf16`) and its CTranslate2 int8 export (`seqtool export`),
   rotating the order every round; wall and CPU seconds (median over rounds) and BLEU of each;
2. whole process: `seqtool translate --input SRC --beam 5` with --engine torch and ctranslate2
   (wall time and peak RSS of each child, from os.wait4);
3. start-up: `seqtool translate "i can't swim"`, median of --startup-runs runs, each engine.

With --student (a model distilled from NAME by `seqtool distill`), step 1 also decodes with the student's
torch fp32 model and its int8 export, and the summary compares the student's int8 engine with NAME on torch
fp32 (speed, BLEU). The bf16 copy and the int8 exports are created if missing (inside the workspace).
Prints one JSON line per round, then a summary JSON with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

DATA = Path("/work/shared/data/small_parallel_enja")


def run(args: list[str]) -> None:
    if os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-m", "seqtool", *args]):
        raise SystemExit(f"seqtool {' '.join(args)} failed")


def child_rss(args: list[str], threads: int) -> tuple[float, int]:
    """Run `python -m seqtool ARGS` (stdout discarded): wall seconds and the peak RSS (bytes) of that child
    alone (os.wait4's rusage; RUSAGE_CHILDREN would give the largest child so far)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "seqtool", *args], env,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])  # fmt: skip
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"seqtool {' '.join(args)} failed (exit {os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("-w", "--workspace", required=True)
    ap.add_argument("--src", type=Path, default=DATA / "dev.en")
    ap.add_argument("--ref", type=Path, default=DATA / "dev.ja")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--startup-runs", type=int, default=10)
    ap.add_argument("--student", help="a student distilled from --model: its torch fp32 and int8 engines too")
    args = ap.parse_args()

    # Children first, while this process is small: Linux keeps a process's peak RSS across exec, so a
    # child spawned after torch is loaded here would report at least this process's size.
    bf16 = f"{args.model}-bf16"
    ws_dir = Path(args.workspace) / "models"
    if not (ws_dir / bf16 / "config.json").exists():
        run(["compress", args.model, "--out", bf16, "--quantize", "bf16", "--no-measure", "-w", args.workspace])
    for name in (args.model, args.student):
        if name and not (ws_dir / name / "ct2-int8").exists():
            run(["export", name, "--quantize", "int8", "-w", args.workspace])
    w = ["-w", args.workspace, "-m", args.model]
    process, startup = {}, {}
    file_args = ["translate", *w, "--input", str(args.src), "--beam", "5", "--tokenized"]
    for engine in ("torch", "ctranslate2"):  # whole process; the CLI translates every line of --src
        seconds, rss = child_rss([*file_args, "--engine", engine], args.threads)
        process[engine] = {"wall_s": round(seconds, 3), "peak_rss_mb": round(rss / 1e6, 1)}
    for i in range(args.startup_runs):  # alternate the engines run by run
        for engine in ("torch", "ctranslate2") if i % 2 == 0 else ("ctranslate2", "torch"):
            seconds, _ = child_rss(["translate", *w, "i can't swim", "--engine", engine], args.threads)
            startup.setdefault(engine, []).append(seconds)
    import torch

    from seqtool.metrics import bleu_only
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.mt import load_translator as load_torch
    from seqtool.tasks.mt import read_dev
    from seqtool.tasks.translator import load_translator

    torch.set_num_threads(args.threads)
    ws = Workspace(args.workspace)
    engines = {
        "torch_fp32": load_torch(ws, args.model, "cpu"),
        "torch_bf16": load_torch(ws, bf16, "cpu"),
        "ct2_int8": load_translator(ws, args.model, "cpu", engine="ctranslate2", threads=args.threads),
        # the same engine as one worker on every thread (the default before parallel workers)
        "ct2_int8_1worker": load_translator(
            ws, args.model, "cpu", engine="ctranslate2", threads=args.threads, workers=1
        ),
    }
    if args.student:
        engines["student_torch_fp32"] = load_torch(ws, args.student, "cpu")
        engines["student_ct2_int8"] = load_translator(
            ws, args.student, "cpu", engine="ctranslate2", threads=args.threads
        )
    sources, refs = read_dev(args.src, args.ref)
    sources, refs = sources[: args.limit], refs[: args.limit]
    wall: dict[str, list[float]] = {k: [] for k in engines}
    cpu: dict[str, list[float]] = {k: [] for k in engines}
    bleu: dict[str, float] = {}
    order = list(engines)
    for r in range(args.rounds):
        for k in order[r % len(order) :] + order[: r % len(order)]:
            t0, c0 = time.perf_counter(), time.process_time()
            hyps = [t[0].text for t in engines[k].translate(sources, tokenized=True, beam=5)]
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
            bleu[k] = bleu_only(hyps, refs)
        print(json.dumps({"round": r + 1, "wall_s": {k: round(v[-1], 3) for k, v in wall.items()},
                          "cpu_s": {k: round(v[-1], 3) for k, v in cpu.items()}}), flush=True)  # fmt: skip
    decode = {k: {"wall_s": round(statistics.median(wall[k]), 3), "cpu_s": round(statistics.median(cpu[k]), 3),
                  "bleu": round(bleu[k], 2)} for k in engines}  # fmt: skip

    summary = {
        "model": args.model, "sentences": len(sources), "threads": args.threads, "rounds": args.rounds,
        "decode": decode,
        "int8_vs_fp32_speed": round(decode["torch_fp32"]["wall_s"] / decode["ct2_int8"]["wall_s"], 2),
        "int8_vs_bf16_speed": round(decode["torch_bf16"]["wall_s"] / decode["ct2_int8"]["wall_s"], 2),
        "workers_vs_one_worker": round(decode["ct2_int8_1worker"]["wall_s"] / decode["ct2_int8"]["wall_s"], 2),
        "int8_bleu_minus_fp32": round(decode["ct2_int8"]["bleu"] - decode["torch_fp32"]["bleu"], 2),
        "process": process,
        "process_speed": round(process["torch"]["wall_s"] / process["ctranslate2"]["wall_s"], 2),
        "rss_ratio": round(process["ctranslate2"]["peak_rss_mb"] / process["torch"]["peak_rss_mb"], 2),
        "startup_median_s": {k: round(statistics.median(v), 3) for k, v in startup.items()},
    }  # fmt: skip
    if args.student:
        student, teacher = decode["student_ct2_int8"], decode["torch_fp32"]
        summary["student_int8_vs_teacher_fp32_speed"] = round(teacher["wall_s"] / student["wall_s"], 2)
        summary["student_int8_bleu_minus_teacher_fp32"] = round(student["bleu"] - teacher["bleu"], 2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
