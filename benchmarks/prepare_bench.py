"""Issue 28: `seqtool data prepare` against known corruptions, and its throughput on a large corpus.

    python3 benchmarks/prepare_bench.py ../shared/data/small_parallel_enja [BIG_PAIRS]

1. Quality: small_parallel_enja's training pairs made raw (English detokenized and capitalized, Japanese
   spaces removed), then corrupted with a fixed seed: 5% duplicated, 2% an empty side, 2% sides swapped,
   2% misaligned by one line, 1% HTML added. `data prepare --write-removed` runs on it; for each kind of
   corruption, how many of its pairs were removed (recall) and under which reasons, and for each reason, how
   many of the pairs it removed were corrupt (precision).
2. Speed: the raw pairs repeated to BIG_PAIRS (default 2,000,000), `data prepare` with and without language ID,
   pairs/s and peak RSS (one process; the CPU and its bf16 flag printed first).
"""

from __future__ import annotations

import collections
import json
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

WORK = Path("/tmp/prepare-bench")


def detok(line: str) -> str:
    s = re.sub(r" (n't|'s|'re|'m|'ve|'ll|'d)\b", r"\1", line.strip())
    s = re.sub(r" ([.,!?;:%)])", r"\1", s)
    return s[:1].upper() + s[1:]


def corrupt(en: list[str], ja: list[str], seed: int = 1) -> tuple[list[str], list[str], list[str]]:
    """The corrupted corpus and, per output line, its corruption ("" for a clean pair)."""
    rng = random.Random(seed)
    n = len(en)
    kinds = ["duplicate"] * (n * 5 // 100) + ["empty"] * (n * 2 // 100) + ["swapped"] * (n * 2 // 100)
    kinds += ["misaligned"] * (n * 2 // 100) + ["html"] * (n // 100)
    chosen = rng.sample(range(n), len(kinds))
    plan = dict(zip(chosen, kinds, strict=True))
    out_en, out_ja, truth = [], [], []
    for i in range(n):
        kind = plan.get(i, "")
        e, j = en[i], ja[i]
        if kind == "empty":
            e, j = (e, "") if rng.random() < 0.5 else ("", j)
        elif kind == "swapped":
            e, j = j, e
        elif kind == "misaligned":
            j = ja[(i + 1) % n]
        elif kind == "html":
            e = f"<p>{e}</p>" if rng.random() < 0.5 else e.replace(" ", " &nbsp;", 1)
        out_en.append(e)
        out_ja.append(j)
        truth.append("" if kind == "duplicate" else kind)
        if kind == "duplicate":  # the original stays clean; a copy goes in later
            at = rng.randrange(len(out_en) + 1)
            out_en.insert(at, e)
            out_ja.insert(at, j)
            truth.insert(at, "duplicate")
    # A duplicate placed before its original makes the original the repeat: count the later one as corrupt.
    seen: dict[tuple[str, str], int] = {}
    for k, pair in enumerate(zip(out_en, out_ja, strict=True)):
        if truth[k] == "duplicate" and pair not in seen:
            first = next(m for m in range(k + 1, len(out_en)) if (out_en[m], out_ja[m]) == pair)
            truth[k], truth[first] = "", "duplicate"
        seen.setdefault(pair, k)
    return out_en, out_ja, truth


def run_prepare(src: Path, tgt: Path, out: Path, *extra: str) -> tuple[dict, float, float]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "seqtool", "data", "prepare", "--src", str(src), "--tgt", str(tgt),
           "--src-lang", "en", "--tgt-lang", "ja", "--out", str(out), "--force", "--json", *extra]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # GB (the largest child so far)
    return json.loads(done.stdout), seconds, rss


def main() -> None:
    data = Path(sys.argv[1])
    big = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    WORK.mkdir(parents=True, exist_ok=True)
    cpu = Path("/proc/cpuinfo").read_text()
    print(cpu.split("model name")[1].split("\n")[0].strip(": \t"), "avx512_bf16:", "avx512_bf16" in cpu)
    en = [detok(x) for x in (data / "train.en").read_text(encoding="utf-8").splitlines()]
    ja = [x.replace(" ", "") for x in (data / "train.ja").read_text(encoding="utf-8").splitlines()]
    c_en, c_ja, truth = corrupt(en, ja)
    (WORK / "c.en").write_text("".join(x + "\n" for x in c_en), encoding="utf-8")
    (WORK / "c.ja").write_text("".join(x + "\n" for x in c_ja), encoding="utf-8")
    report, seconds, _ = run_prepare(WORK / "c.en", WORK / "c.ja", WORK / "c-out", "--write-removed")
    removed = {}
    for row in (WORK / "c-out" / "removed.tsv").read_text(encoding="utf-8").splitlines():
        reason, line = row.split("\t")[:2]
        removed[int(line)] = reason
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for i, kind in enumerate(truth, start=1):
        by_kind[kind or "clean"][removed.get(i, "kept")] += 1
    print(f"\n{len(truth):,} pairs, {len(removed):,} removed in {seconds:.1f}s")
    print("| corruption | pairs | removed (recall) | by reason |\n|---|---:|---:|---|")
    for kind in ("duplicate", "empty", "swapped", "misaligned", "html", "clean"):
        counts = by_kind[kind]
        total, kept = sum(counts.values()), counts["kept"]
        reasons = ", ".join(f"{r} {c}" for r, c in counts.most_common() if r != "kept")
        print(f"| {kind} | {total:,} | {total - kept:,} ({(total - kept) / max(1, total):.1%}) | {reasons or '-'} |")
    print("\n| reason | removed | of them corrupt (precision) |\n|---|---:|---:|")
    for reason in report["removed"]:
        lines = [i for i, r in removed.items() if r == reason]
        if lines:
            bad = sum(1 for i in lines if truth[i - 1])
            print(f"| {reason} | {len(lines):,} | {bad:,} ({bad / len(lines):.1%}) |")

    # Mostly distinct pairs: two random training pairs joined (sentence i and j on both sides).
    rng = random.Random(2)
    with open(WORK / "big.en", "w", encoding="utf-8") as fe, open(WORK / "big.ja", "w", encoding="utf-8") as fj:
        for _ in range(big):
            i, j = rng.randrange(len(en)), rng.randrange(len(en))
            fe.write(f"{en[i]} {en[j]}\n")
            fj.write(f"{ja[i]}{ja[j]}\n")
    print(f"\nspeed on {big:,} pairs (two random training pairs joined: nearly all distinct)")
    for extra in ((), ("--no-langid",)):
        report, seconds, rss = run_prepare(WORK / "big.en", WORK / "big.ja", WORK / "big-out", *extra)
        print(f"{' '.join(extra) or 'with language ID'}: {report['read'] / seconds:,.0f} pairs/s "
              f"({seconds:.1f}s), peak RSS of the largest run so far {rss:.2f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
