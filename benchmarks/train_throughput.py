"""Training throughput (target tokens/s) of seqtool's models on small_parallel_enja, measured in one run.

Encodes the real training data with seqtool's own pipeline (sentencepiece, length-bucketed token
batches), then times ``Trainer.train_step`` - the exact code `seqtool train-mt` / `train-lm` run -
for a number of batches per configuration, after a warm-up. Prints one line per configuration.

    python benchmarks/train_throughput.py --data ../shared/data/small_parallel_enja --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from seqtool.data.batching import collate, encode_corpus, token_batches
from seqtool.data.corpus import read_lines
from seqtool.data.tokenizers import train_tokenizer
from seqtool.models.lm import build_lm, lm_config
from seqtool.models.seq2seq import build_translator, translator_config
from seqtool.store.workspace import Workspace
from seqtool.tasks.mt import side_tokenizer
from seqtool.training.config import Objective, TrainConfig
from seqtool.training.trainer import Trainer


def measure(trainer: Trainer, batches, make, warmup: int, steps: int) -> tuple[float, float]:
    rates = []
    for i, idx in enumerate(batches[: warmup + steps]):
        batch = make(idx)
        t = time.perf_counter()
        _, n = trainer.train_step(batch)
        if i >= warmup:
            rates.append((n, time.perf_counter() - t))
    total_tokens = sum(n for n, _ in rates)
    total_time = sum(t for _, t in rates)
    per_batch = [n / t for n, t in rates]
    return total_tokens / total_time, statistics.median(per_batch)


def bare_reference(threads: int, precision: str, steps: int = 8) -> float:
    """../shared/BENCHMARKS.md's reference: a bare nn.Transformer (3+3, d 256, 4 heads, ff 1024, pre-LN)
    with an 8,778-word output layer, Adam, dense batch of 256 sentences (source 10, target 14)."""
    torch.manual_seed(0)
    model = torch.nn.Transformer(256, 4, 3, 3, 1024, 0.1, batch_first=True, norm_first=True)
    emb_s, emb_t, out = torch.nn.Embedding(8000, 256), torch.nn.Embedding(8778, 256), torch.nn.Linear(256, 8778)
    params = [*model.parameters(), *emb_s.parameters(), *emb_t.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, 1e-4)
    src, tgt = torch.randint(0, 8000, (256, 10)), torch.randint(0, 8778, (256, 14))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(14)
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = out(model(emb_s(src), emb_t(tgt), tgt_mask=mask))
            loss = torch.nn.functional.cross_entropy(logits.float().view(-1, 8778), tgt.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return 256 * 14 / statistics.median(times)


def word_lm_reference(threads: int, vocab: int = 6638, steps: int = 30) -> float:
    """The PyTorch examples' word_language_model training step (2-layer LSTM 256, tied, dropout 0.3,
    batch 20 x bptt 35, plain SGD with lr 20, clip 0.25, hidden state carried over), on random ids."""
    torch.manual_seed(0)
    emb, rnn = torch.nn.Embedding(vocab, 256), torch.nn.LSTM(256, 256, 2, dropout=0.3)
    dec, drop = torch.nn.Linear(256, vocab), torch.nn.Dropout(0.3)
    dec.weight = emb.weight
    params = [*emb.parameters(), *rnn.parameters(), *dec.parameters()]
    data = torch.randint(0, vocab, (35 * (steps + 3) + 1, 20))
    hidden = None
    times = []
    for i in range(steps + 2):
        x, y = data[i * 35 : (i + 1) * 35], data[i * 35 + 1 : (i + 1) * 35 + 1]
        t = time.perf_counter()
        hidden = None if hidden is None else tuple(h.detach() for h in hidden)
        out, hidden = rnn(drop(emb(x)), hidden)
        loss = torch.nn.functional.cross_entropy(dec(drop(out)).view(-1, vocab), y.reshape(-1))
        for p in params:
            p.grad = None
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.25)
        with torch.no_grad():
            for p in params:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-20)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return 35 * 20 / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/small_parallel_enja"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--what", default="mt-transformer,lm-lstm")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--reference", action="store_true", help="also time the bare nn.Transformer reference")
    ap.add_argument("--profile", type=int, default=0, help="then profile this many more steps (operator table)")
    ap.add_argument("--compile-features", action="store_true",
                    help="torch.compile (dynamic shapes) the model body only; the mask and loss stay eager")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.reference:
        rate = word_lm_reference(args.threads)
        print(f"{'word_language_model':16s} fp32  20x35 SGD step  tokens/s: {rate:,.0f}", flush=True)
        for precision in args.precisions.split(","):
            rate = bare_reference(args.threads, precision)
            print(
                f"{'bare nn.Transformer':16s} {precision:5s} dense 256x(10->14)  target tokens/s: {rate:,.0f}",
                flush=True,
            )
    tmp = Path(tempfile.mkdtemp())
    md = Workspace(tmp).model_dir("bench")
    md.path.mkdir(parents=True)
    src, tgt = args.data / "train.en", args.data / "train.ja"
    for what in args.what.split(","):
        if what.startswith("mt-"):
            arch = what[3:]
            s_tok = side_tokenizer((s for _, s in read_lines(src)), "unigram", "en", 8000, True, args.threads)
            t_tok = side_tokenizer((t for _, t in read_lines(tgt)), "unigram", "ja", 8000, False, args.threads)
            (s_ids, t_ids), _ = encode_corpus([[src, tgt]], [s_tok, t_tok], tmp / f"{what}")
            lengths = torch.maximum(torch.from_numpy(s_ids.lengths()), torch.from_numpy(t_ids.lengths() + 1)).numpy()
            values = {"src_vocab": s_tok.vocab_size, "tgt_vocab": t_tok.vocab_size}
            if arch != "transformer":
                values.update(attention="bahdanau", bidirectional=True)
            make_model = lambda v=values, a=arch: build_translator(translator_config(a, v))  # noqa: E731

            def make(idx, s=s_ids, t=t_ids):
                return collate(idx, t, s)
        else:
            cell = what[3:]
            tok = train_tokenizer((s for _, s in read_lines(src)), "word", lang="en")
            (ids,), _ = encode_corpus([[src]], [tok], tmp / what)
            lengths = ids.lengths() + 1
            cfg = lm_config(vocab_size=tok.vocab_size, cell=cell, layers=2, emb_dim=256, hidden=256, dropout=0.3)
            make_model = lambda c=cfg: build_lm(c)  # noqa: E731

            def make(idx, ids=ids):
                return collate(idx, ids)

        batches = token_batches(lengths, args.batch_tokens, seed=1, epoch=0)
        for precision in args.precisions.split(","):
            torch.manual_seed(0)
            model = make_model()
            if args.compile_features:  # SEQTOOL_COMPILE=1 compiles the whole step, which breaks at the mask
                model.features = torch.compile(model.features, dynamic=True)
            cfg = TrainConfig(precision=precision, batch_tokens=args.batch_tokens)
            trainer = Trainer(
                model, cfg, md, epoch_batches=lambda e, b=batches: b, make_batch=make, evaluate=lambda m: {"x": 0.0},
                objective=Objective("x", True), device=torch.device("cpu"),
            )  # fmt: skip
            overall, median = measure(trainer, batches, make, args.warmup, args.steps)
            print(
                f"{what:16s} {precision:5s} params {model.num_parameters():>10,}  "
                f"batch_tokens {args.batch_tokens}  threads {args.threads}  "
                f"target tokens/s: {overall:,.0f} (median per batch {median:,.0f})",
                flush=True,
            )
            if args.profile:  # where a step's time goes: torch.profiler's operators, by time spent in each
                from torch.profiler import ProfilerActivity, profile

                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    for idx in batches[args.warmup + args.steps : args.warmup + args.steps + args.profile]:
                        trainer.train_step(make(idx))
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15), flush=True)


if __name__ == "__main__":
    main()
