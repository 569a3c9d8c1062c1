"""One figure of dev per-word perplexity against minutes: seqtool's train-lm and the PyTorch example
word_language_model, from the workspace and log that benchmarks/lm_vs_example.sh leaves behind.

    python benchmarks/plot_lm_vs_example.py WS OUT.png [--dev dev.en]

The example logs per-token perplexity (one <eos> per line) and the seconds of each epoch's training; its
evaluation time is not logged, so its minutes are the sum of training times (slightly early). Its per-token
figure is converted to per word as in lm_vs_example.sh: ppl ** ((words + lines) / words).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

DEV = Path("/work/shared/data/small_parallel_enja/dev.en")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--model", default="lstm-vs-example")
    args = ap.parse_args()
    lines = [line for line in args.dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = sum(len(line.split()) for line in lines)
    exponent = (words + len(lines)) / words
    minutes, ppl, elapsed = [], [], 0.0
    for line in (args.workspace / "example.log").read_text(encoding="utf-8").splitlines():
        m = re.search(r"time:\s+([0-9.]+)s \| valid loss\s+[0-9.]+ \| valid ppl\s+([0-9.]+)", line)
        if m:
            elapsed += float(m.group(1))
            minutes.append(elapsed / 60)
            ppl.append(float(m.group(2)) ** exponent)
    rows = [json.loads(r) for r in (args.workspace / "models" / args.model / "metrics.jsonl").open(encoding="utf-8")]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.plot([r["elapsed_s"] / 60 for r in rows], [r["dev_ppl"] for r in rows], "o-", label="seqtool train-lm")
    ax.plot(minutes, ppl, "s--", label="PyTorch example word_language_model")
    ax.set_xlabel("minutes (1 thread each, both at once)")
    ax.set_ylabel("dev per-word perplexity")
    ax.set_ylim(top=min(80, max(ppl + [r["dev_ppl"] for r in rows]) * 1.05))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("2-layer LSTM 256, tied, small_parallel_enja train.en")
    fig.tight_layout()
    fig.savefig(args.out)
    print("| minutes | " + " | ".join(f"{m:.1f}" for m in minutes) + " |")
    print("| example, per word | " + " | ".join(f"{p:.2f}" for p in ppl) + " |")
    print("| minutes | " + " | ".join(f"{r['elapsed_s'] / 60:.1f}" for r in rows) + " |")
    print("| seqtool, per word | " + " | ".join(f"{r['dev_ppl']:.2f}" for r in rows) + " |")


if __name__ == "__main__":
    main()
