"""Issue 13 (embeddings): do other word2vec settings give `similar 家族` sensible neighbours without losing
the analogy accuracy of the defaults?

For each setting and seed it trains on train.ja (the library call behind `seqtool embed`), then reports:
the family words among the 10 nearest neighbours of 家族 (a fixed list below, written before the runs),
the same with neighbours restricted to the 2,000 most frequent words (`similar --restrict 2000`, a
frequency floor at query time), and top-1/top-5 analogy accuracy on benchmarks/analogy_ja.txt.

    python benchmarks/embeddings_neighbours.py [--corpus train.ja] [--seeds 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtool.embeddings.evaluation import evaluate_analogies  # noqa: E402
from seqtool.embeddings.training import EmbeddingSettings, train_embeddings  # noqa: E402
from seqtool.embeddings.vectors import load_embeddings, neighbours  # noqa: E402

DEFAULT_CORPUS = Path("/work/shared/data/small_parallel_enja/train.ja")
QUESTIONS = ROOT / "benchmarks" / "analogy_ja.txt"
QUERY = "家族"
# Kinship and household words: a neighbour of 家族 from this list counts as a family word.
FAMILY_WORDS = "父 母 父親 母親 兄 弟 姉 妹 兄弟 姉妹 息子 娘 夫 妻 主人 奥さん 両親 親 子供 子ども 子 祖父 祖母 孫 叔父 叔母 伯父 伯母 おじ おば いとこ 親戚 親類 家庭 一家 家 夫婦 赤ちゃん 赤ん坊 家内 女房 おじいさん おばあさん お父さん お母さん 兄さん 姉さん 妻子 家族 長男 長女 次男 次女 末っ子"
FAMILY = set(FAMILY_WORDS.split())
SETTINGS: dict[str, dict[str, object]] = {
    "defaults (cbow, 20 epochs)": {},
    "cbow, 40 epochs": {"epochs": 40},
    "cbow, min-count 10": {"min_count": 10},
    "skipgram, sample 1e-4": {"method": "skipgram", "sample": 1e-4, "alpha": 0.025},
    "skipgram, sample 1e-4, 40 epochs": {"method": "skipgram", "sample": 1e-4, "alpha": 0.025, "epochs": 40},
}


def measure(corpus: Path, label: str, overrides: dict[str, object], seed: int, threads: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as ws:
        settings = EmbeddingSettings(**overrides, seed=seed, workers=threads)  # type: ignore[arg-type]
        start = time.perf_counter()
        train_embeddings(corpus, ws, "w2v", settings)
        seconds = time.perf_counter() - start
        emb = load_embeddings(ws, "w2v")
        near = [n.word for n in neighbours(emb, QUERY, top=10)]
        near_frequent = [n.word for n in neighbours(emb, QUERY, top=10, restrict=2000)]
        acc = evaluate_analogies(emb, QUESTIONS)
    return {"setting": label, "seed": seed, "seconds": round(seconds, 1), "neighbours": near,
            "family": sum(w in FAMILY for w in near), "family_restrict2000": sum(w in FAMILY for w in near_frequent),
            "neighbours_restrict2000": near_frequent, "top1": acc["accuracy"], "top5": acc["top5_accuracy"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(
        "| setting | seed | s | family words in top 10 | same, --restrict 2000 | analogy top-1 | top-5 | neighbours |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, overrides in SETTINGS.items():
        for seed in args.seeds:
            r = measure(args.corpus, label, overrides, seed, args.threads)
            print(f"| {label} | {seed} | {r['seconds']} | {r['family']} | {r['family_restrict2000']} | "
                  f"{r['top1']:.3f} | {r['top5']:.3f} | {' '.join(r['neighbours'])} |", flush=True)  # type: ignore[arg-type]  # fmt: skip
            print(json.dumps(r, ensure_ascii=False), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
