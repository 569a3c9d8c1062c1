"""Issue 12: does raw, typed input translate as well as the corpus-tokenized input?

    python benchmarks/raw_input.py -w WS --model NAME [--src dev.en --ref dev.ja] [--beam 5] [--threads 2]
                                   [--lang ja --tokenize 13a]

It rewrites the dev source the way a user types it and scores both versions with the same model, beam and
length penalty (the model's tuned ones unless --beam / --alpha), sacrebleu tokenize none (--tokenize) on the
corpus-segmented output:
- English: clitics and punctuation re-attached ("i can 't swim ." -> "I can't swim."), the first letter and
  the pronoun "i" capitalized;
- Japanese (``--lang ja``): the word-separating spaces removed ("私 は 泳げ な い 。" -> "私は泳げない。").
Prints three example rewrites and one JSON line with both BLEU scores and the gap.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtool.metrics import bleu_only  # noqa: E402
from seqtool.store.workspace import Workspace  # noqa: E402
from seqtool.tasks.decoding_tuning import decoding_defaults  # noqa: E402
from seqtool.tasks.mt import read_dev  # noqa: E402
from seqtool.tasks.translator import load_translator  # noqa: E402

DATA = Path("/work/shared/data/small_parallel_enja")
_CLITIC = re.compile(r" ('t|n't|'s|'m|'re|'ll|'ve|'d)\b")
_PUNCT = re.compile(r" ([.,!?;:])")


def typed_english(line: str) -> str:
    """``i can 't swim .`` -> ``I can't swim.``"""
    text = _PUNCT.sub(r"\1", _CLITIC.sub(r"\1", line.strip()))
    text = re.sub(r"\bi\b", "I", text)
    return text[:1].upper() + text[1:]


def typed_japanese(line: str) -> str:
    return line.strip().replace(" ", "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-w", "--workspace", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--src", type=Path, default=DATA / "dev.en")
    ap.add_argument("--ref", type=Path, default=DATA / "dev.ja")
    ap.add_argument("--lang", choices=("en", "ja"), default="en", help="the source language")
    ap.add_argument("--beam", type=int)
    ap.add_argument("--alpha", type=float)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokenize", default="none", help="sacrebleu tokenizer (13a for English output)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    tr = load_translator(Workspace(args.workspace), args.model, "cpu", threads=args.threads)
    beam, alpha = decoding_defaults(tr.config)
    beam, alpha = args.beam or beam, alpha if args.alpha is None else args.alpha
    sources, refs = read_dev(args.src, args.ref)
    typed = [(typed_english if args.lang == "en" else typed_japanese)(s) for s in sources]
    for before, after in list(zip(sources, typed, strict=True))[:3]:
        print(f"{before!r} -> {after!r}")
    scores = {}
    for label, texts in (("corpus", sources), ("typed", typed)):
        found = tr.translate(texts, tokenized=True, beam=beam, alpha=alpha)
        scores[label] = round(bleu_only([t[0].text for t in found], refs, tokenize=args.tokenize), 2)
    print(json.dumps({"model": args.model, "engine": tr.engine, "beam": beam, "length_penalty": alpha, "tokenize": args.tokenize,
                      "bleu_corpus_input": scores["corpus"], "bleu_typed_input": scores["typed"],
                      "gap": round(scores["corpus"] - scores["typed"], 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
