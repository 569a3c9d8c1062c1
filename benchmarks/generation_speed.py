"""Generation speed of trained LMs (words/s), and for WaveNet incremental (queued) vs full recompute.

    python benchmarks/generation_speed.py WORKSPACE MODEL [MODEL ...] [--words 200] [--threads 2]

"incremental" samples with the model's own step (queues for WaveNet, caches/hidden states otherwise);
"full" re-runs the whole forward pass over the sequence so far at every step (what a convolutional
model without queues would do). Both sample the same distribution; the numbers are words per second.
"""

from __future__ import annotations

import argparse
import time

import torch

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS, EOS
from seqtool.decoding import sample
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import load_lm


@torch.no_grad()
def full_recompute(model, words: int, generator: torch.Generator) -> int:
    seq = torch.tensor([[BOS]])
    for _ in range(words):
        feats = model.features(Batch(tgt_in=seq, tgt_out=seq))
        probs = torch.softmax(model.logits(feats[:, -1]).float(), dim=-1)
        probs[:, :3] = 0
        token = torch.multinomial(probs, 1, generator=generator)
        if int(token) == EOS:
            token[:] = 4  # keep going: the benchmark measures a fixed number of steps
        seq = torch.cat([seq, token], dim=1)
    return words


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("workspace")
    p.add_argument("models", nargs="+")
    p.add_argument("--words", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    for name in a.models:
        lm = load_lm(Workspace(a.workspace), name, "cpu")
        g = torch.Generator().manual_seed(0)
        t = time.perf_counter()
        n = 0
        while n < a.words:  # sentences end at </s>: sample until enough words
            n += len(sample(lm.model, torch.zeros((1, 0), dtype=torch.long), a.words, 1.0, 0, g)[0]) + 1
        inc = n / (time.perf_counter() - t)
        t = time.perf_counter()
        full = full_recompute(lm.model, a.words, g) / (time.perf_counter() - t)
        print(f"{name}: incremental {inc:,.0f} words/s, full recompute {full:,.0f} words/s")


if __name__ == "__main__":
    main()
