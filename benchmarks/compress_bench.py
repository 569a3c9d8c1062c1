"""Compression, distillation and data-parallel benchmarks (results in docs/benchmarks.md).

    python benchmarks/compress_bench.py [--model NAME -w WS] [--train-minutes 3] [--skip-ddp]

1. fp32 vs bf16 vs int8 (`seqtool compress`): weights size, beam-5 translation speed and BLEU on
   the first 500 dev sentences of small_parallel_enja, 2 threads, measured in one run (the ratios
   are what counts on a shared CPU). Without --model, a small Transformer is trained on the real
   corpus for --train-minutes first (say so when reporting).
2. optionally (--also STUDENT) other models timed in the same rounds, e.g. a student distilled from
   --model with `seqtool distill`: speed and BLEU next to its teacher.
3. training throughput: `torchrun --nproc_per_node 2` x 1 thread vs 1 process x 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DATA = Path("/work/shared/data/small_parallel_enja")


def seqtool(*args: str, threads: int = 2) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-m", "seqtool", *args, "--json"], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"seqtool {' '.join(args)} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def train_args(ws: str, name: str, minutes: float) -> list[str]:  # the quick teacher/model
    return ["train-mt", "-w", ws, "--name", name, "--src", str(DATA / "train.en"), "--tgt", str(DATA / "train.ja"),
            "--dev-src", str(DATA / "dev.en"), "--dev-tgt", str(DATA / "dev.ja"), "--max-minutes", str(minutes)]  # fmt: skip


def compression(ws_root: str, model: str, limit: int, rounds: int, also: list[str]) -> list[dict]:
    """fp32 vs bf16 vs int8 (and the ``also`` models) in one process, rotating the order every round
    (the CPU is shared: only ratios measured side by side mean something). Returns one row per model."""
    import statistics

    import torch

    from seqtool.metrics import bleu_only
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.compress import compress_model
    from seqtool.tasks.mt import load_translator, read_dev

    torch.set_num_threads(2)
    ws = Workspace(ws_root)
    names = {"fp32": model}
    for quantize in ("bf16", "int8"):
        names[quantize] = f"{model}-{quantize}-{int(time.time())}"
        compress_model(ws, model, names[quantize], quantize, 0.0)
    names.update({n: n for n in also})
    loaded = {p: load_translator(ws, n, "cpu") for p, n in names.items()}
    sources, refs = read_dev(DATA / "dev.en", DATA / "dev.ja")
    sources, refs = sources[:limit], refs[:limit]
    # Wall time and this process's CPU time (both threads): on a shared, overloaded CPU the wall
    # time depends on what else runs; the CPU time much less so.
    times: dict[str, list[float]] = {p: [] for p in names}
    cpu: dict[str, list[float]] = {p: [] for p in names}
    bleu = {}
    order = list(names)
    for r in range(rounds):
        for p in order[r % len(order) :] + order[: r % len(order)]:
            t0, c0 = time.perf_counter(), time.process_time()
            hyps = [t[0].text for t in loaded[p].translate(sources, tokenized=True, beam=5)]
            times[p].append(time.perf_counter() - t0)
            cpu[p].append(time.process_time() - c0)
            bleu[p] = bleu_only(hyps, refs)
        print(json.dumps({"round": r + 1, "wall_s": {p: round(t[-1], 2) for p, t in times.items()},
                          "cpu_s": {p: round(t[-1], 2) for p, t in cpu.items()}}), flush=True)  # fmt: skip
    rows = []
    for p, n in names.items():
        median = statistics.median(times[p])
        rows.append({"precision": p, "model": n, "weights_bytes": loaded[p].md.weights_path.stat().st_size,
                     "sentences": len(sources), "median_s": round(median, 2), "times_s": [round(t, 2) for t in times[p]],
                     "speedup_vs_fp32": round(statistics.median(times["fp32"]) / median, 2),
                     "cpu_s": [round(t, 2) for t in cpu[p]],
                     "cpu_speedup_vs_fp32": round(statistics.median(cpu["fp32"]) / statistics.median(cpu[p]), 2),
                     "bleu": round(bleu[p], 2)})  # fmt: skip
    return rows


def throughput(ws: str, minutes: float) -> dict:
    """Training rate (target tokens/s, evaluation excluded: the first metrics row) of the same run with
    2 processes x 1 thread (torchrun) vs 1 process x 2 threads, on the real corpus with a 50-line dev set."""
    root = Path(ws)
    root.mkdir(parents=True, exist_ok=True)
    for side in ("en", "ja"):
        lines = (DATA / f"dev.{side}").read_text(encoding="utf-8").splitlines()[:50]
        (root / f"dev50.{side}").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    stamp = int(time.time())

    def args(name: str) -> list[str]:
        return ["train-mt", "-w", ws, "--name", name, "--src", str(DATA / "train.en"), "--tgt", str(DATA / "train.ja"),
                "--dev-src", str(root / "dev50.en"), "--dev-tgt", str(root / "dev50.ja"), "--max-minutes", str(minutes),
                "--epochs", "1", "--json"]  # fmt: skip

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = f"ddp-2x1-{stamp}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "seqtool",
           *args(two), "--threads", "1"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    one = f"ddp-1x2-{stamp}"
    subprocess.run([sys.executable, "-m", "seqtool", *args(one), "--threads", "2"], capture_output=True, check=True)

    def rate(name: str) -> float:
        first = (root / "models" / name / "metrics.jsonl").read_text().splitlines()[0]
        return json.loads(first)["tokens_per_s"]

    return {"2 processes x 1 thread": rate(two), "1 process x 2 threads": rate(one)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="an existing mt model to compress (default: train one)")
    parser.add_argument("-w", "--workspace", default="/tmp/compress-bench")
    parser.add_argument("--train-minutes", type=float, default=3.0)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--throughput-minutes", type=float, default=1.0)
    parser.add_argument("--also", action="append", default=[], help="another model to time (e.g. a student)")
    parser.add_argument("--skip-ddp", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    model = args.model
    if model is None:
        model = f"quick-{int(time.time())}"
        trained = seqtool(*train_args(args.workspace, model, args.train_minutes), "--threads", "2")
        print(json.dumps({"trained": trained}), flush=True)
    for row in compression(args.workspace, model, args.limit, args.rounds, args.also):
        print(json.dumps(row), flush=True)
    if not args.skip_ddp:
        print(json.dumps(throughput(args.workspace, args.throughput_minutes)), flush=True)
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
