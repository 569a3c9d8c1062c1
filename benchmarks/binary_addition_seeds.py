"""Binary addition across seeds: how often sigmoid, tanh and ReLU learn it, and how fast.

    OMP_NUM_THREADS=1 python benchmarks/binary_addition_seeds.py --seeds 10 --inits xavier,he,normal

Every run uses the experiment's defaults (16 hidden units, 8-bit sums, SGD lr 1.0, batch 32,
3000 steps) apart from the seed and the initialisation. Prints one line per (init, activation):
how many seeds end at 100% held-out accuracy, diverge, or fail, and the step from which accuracy
stays at 100% (median and range). The results are recorded in docs/experiments.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace

import torch

from seqtool.tasks.experiments.binary_addition import BinaryAdditionConfig, parse_activations, run_binary_addition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    parser.add_argument("--inits", default="xavier", help="comma-separated: xavier,he,normal")
    parser.add_argument("--activations", default="sigmoid,tanh,relu")
    parser.add_argument("--lr", type=float, default=BinaryAdditionConfig.lr)
    parser.add_argument("--json", help="also write every run's summary to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    records = []
    for init in args.inits.split(","):
        for activation in parse_activations(args.activations):
            runs = []
            for seed in range(args.seeds):
                config = replace(BinaryAdditionConfig(), activation=activation, init=init, seed=seed, lr=args.lr)
                result = run_binary_addition(config)
                runs.append(
                    {
                        "init": init,
                        "activation": activation,
                        "seed": seed,
                        "solved_step": result.solved_step,
                        "first_100_step": next((c.step for c in result.history if c.accuracy == 1.0), None),
                        "final_accuracy": result.final.accuracy,
                        "best_accuracy": max(c.accuracy for c in result.history),
                        "diverged": result.diverged,
                        "dead_units": result.dead_units,
                        "elapsed_s": round(result.elapsed_s, 2),
                    }
                )
            records += runs
            solved = [r["solved_step"] for r in runs if r["solved_step"] is not None]
            failed = [
                f"seed {r['seed']}: final {r['final_accuracy']:.1%}, best {r['best_accuracy']:.1%}"
                + (" (diverged)" if r["diverged"] else "")
                + (f" ({r['dead_units']} dead units)" if r["dead_units"] else "")
                for r in runs
                if r["solved_step"] is None
            ]
            unstable = [
                r["seed"] for r in runs if r["solved_step"] is not None and r["first_100_step"] != r["solved_step"]
            ]
            steps = f"median {statistics.median(solved):g}, range {min(solved)}-{max(solved)}" if solved else "-"
            seconds = statistics.median(r["elapsed_s"] for r in runs)
            print(
                f"{init:6} {activation:7} lr {args.lr:g}: {len(solved)}/{len(runs)} end at 100% (from step {steps}); "
                f"reached 100% then lost it before recovering: seeds {unstable or '-'}; failed: {failed or '-'}; "
                f"median {seconds:.1f}s/run",
                flush=True,
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=1)
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, 1 thread")


if __name__ == "__main__":
    main()
