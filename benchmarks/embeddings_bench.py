"""Word-embedding benchmark: `seqtool embed` training time against gensim called directly, and the
analogy accuracy of seqtool's default settings against plain gensim defaults.

    python benchmarks/embeddings_bench.py                       # small_parallel_enja train.ja
    python benchmarks/embeddings_bench.py --corpus FILE --repeats 5 --seeds 5

Timing: both sides get identical ``gensim.models.Word2Vec`` arguments and threads (all cores unless
--threads), the corpus is read with ``corpus_file`` in both, and the runs of each round alternate in
order so that a busy machine slows both alike; the ratios of each round are compared (median), for
wall-clock and for CPU time (all threads of the process). seqtool's time is
the whole library call: corpus check, vocabulary, training, writing the model folder.

Accuracy: top-1 and top-5 on benchmarks/analogy_ja.txt (3CosAdd over the whole vocabulary), averaged
over several seeds because multi-threaded word2vec is not deterministic.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_CORPUS = Path("/work/shared/data/small_parallel_enja/train.ja")
QUESTIONS = ROOT / "benchmarks" / "analogy_ja.txt"


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_training(corpus: Path, repeats: int, threads: int) -> dict[str, list[tuple[float, float]]]:
    from gensim.models import Word2Vec

    from seqtool.embeddings import EmbeddingSettings, train_embeddings

    settings = EmbeddingSettings(workers=threads)
    kwargs = settings.word2vec_kwargs(threads)
    no_loss = {**kwargs, "compute_loss": False}
    times: dict[str, list[tuple[float, float]]] = {"seqtool": [], "gensim": [], "gensim_no_loss": []}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        runs = {
            "seqtool": lambda i: train_embeddings(corpus, ws, f"bench{i}", settings),
            "gensim": lambda i: Word2Vec(corpus_file=str(corpus), **kwargs),
            "gensim_no_loss": lambda i: Word2Vec(corpus_file=str(corpus), **no_loss),
        }
        for i in range(repeats):
            # Alternate the order (ABC, CBA, ...) so that neither side always runs first or last.
            for name in list(runs) if i % 2 == 0 else list(reversed(runs)):
                times[name].append(_timed(lambda name=name, i=i: runs[name](i)))
        cli = [sys.executable, "-m", "seqtool", "embed", str(corpus), "-w", str(Path(tmp) / "cli"), "--json"]
        run = [*cli, "--threads", str(threads)]
        start = time.perf_counter()
        subprocess.run(run, check=True, capture_output=True, cwd=ROOT)
        times["cli_end_to_end"] = [(time.perf_counter() - start, float("nan"))]
    return times


def accuracy(corpus: Path, seeds: int, threads: int) -> list[dict[str, Any]]:
    from gensim.models import Word2Vec

    from seqtool.embeddings import Embeddings, EmbeddingSettings
    from seqtool.embeddings.evaluation import evaluate_analogies
    from seqtool.store.workspace import Workspace

    ours = EmbeddingSettings(workers=threads).word2vec_kwargs(threads)
    configs = [
        ("gensim defaults (CBOW, 100 dims, 5 epochs)", {"workers": threads}, 0),
        ("gensim defaults at 32 dims", {"workers": threads, "vector_size": 32}, 0),
        ("seqtool defaults", ours, 0),
        ("seqtool defaults, --restrict 2000", ours, 2000),
    ]
    rows = []
    models: dict[str, list[Any]] = {}
    for label, kwargs, restrict in configs:
        key = repr(sorted(kwargs.items()))
        if key not in models:
            models[key] = [
                Word2Vec(corpus_file=str(corpus), **{**kwargs, "seed": seed}).wv for seed in range(1, seeds + 1)
            ]
        top1, top5, mother = [], [], 0
        for kv in models[key]:
            emb = Embeddings("bench", {"language": "ja"}, kv, Workspace(tempfile.gettempdir()).model_dir("bench"))
            result = evaluate_analogies(emb, QUESTIONS, restrict=restrict or None)
            top1.append(result["accuracy"])
            top5.append(result["top5_accuracy"])
            candidates = kv.index_to_key[: restrict or None]
            best = kv.most_similar(positive=["父", "女"], negative=["男"], topn=1, restrict_vocab=len(candidates))
            mother += best[0][0] == "母"
        rows.append(
            {
                "label": label,
                "top1": statistics.mean(top1),
                "top5": statistics.mean(top5),
                "mother": mother,
                "seeds": seeds,
                "asked": result["total"],
                "oov": result["oov"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--seeds", type=int, default=3, help="trainings per configuration for accuracy")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(f"{args.corpus}: not found (pass --corpus)")
    import gensim

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, threads {args.threads}")
    print(f"python {platform.python_version()}, gensim {gensim.__version__}, corpus {args.corpus}\n")
    times = time_training(args.corpus, args.repeats, args.threads)
    print("| run | wall s: min | wall s: median | CPU s: median | all runs, wall s |\n|---|---:|---:|---:|---|")
    summary = {}
    for k, runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        summary[k] = (min(walls), statistics.median(walls), statistics.median(cpus))
        row = f"| {k} | {summary[k][0]:.2f} | {summary[k][1]:.2f} | {summary[k][2]:.2f} |"
        print(row + f" {', '.join(f'{w:.2f}' for w in walls)} |")
    for other in ("gensim", "gensim_no_loss"):
        pairs = list(zip(times["seqtool"], times[other], strict=True))
        wall = statistics.median(a[0] / b[0] for a, b in pairs)
        cpu = statistics.median(a[1] / b[1] for a, b in pairs)
        print(f"\nseqtool / {other}, median of per-round ratios: wall {wall:.3f}, CPU {cpu:.3f}")
    print()
    if args.skip_accuracy:
        return
    print("| settings | top-1 | top-5 | 父 - 男 + 女 = 母 (top-1) | questions asked / oov |")
    print("|---|---:|---:|---:|---:|")
    for r in accuracy(args.corpus, args.seeds, args.threads):
        print(
            f"| {r['label']} | {r['top1']:.3f} | {r['top5']:.3f} | {r['mother']}/{r['seeds']} seeds "
            f"| {r['asked']} / {r['oov']} |"
        )


if __name__ == "__main__":
    main()
