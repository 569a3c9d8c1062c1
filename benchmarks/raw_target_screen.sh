#!/usr/bin/env bash
# Issue 28, after benchmarks/raw_vs_segmented.sh: two ways to give a raw Japanese target better pieces,
# screened side by side (one thread each, at once) for MINUTES:
#   raw-4k   the raw target (spaces removed) with --tgt-vocab 4000 instead of 8,000
#   mecab    the raw target split into words by MeCab (IPAdic, as sacrebleu's ja-mecab) before training: what a
#            built-in word segmenter would give
# Both are scored the same way at the end: greedy `translate`, outputs without spaces, against the raw dev
# references with ja-mecab. Needs the raw files that raw_vs_segmented.sh wrote to $WORK/raw.
# With FULL=1 the runs are trained and scored as raw_vs_segmented.sh's are (each tunes its length penalty on
# dev at the end; beam 5 with that penalty), for a comparison with its segmented run at 60 reference minutes.
#
#   [FULL=1] WORK=/tmp/rawseg bash benchmarks/raw_target_screen.sh ../shared/data/small_parallel_enja MINUTES [SEED]
set -euo pipefail
D=$(realpath "${1:-../shared/data/small_parallel_enja}")
MINUTES=${2:-20.8}
SEED=${3:-1}
WORK=${WORK:-/tmp/rawseg}
mkdir -p "$WORK/mecab"
grep -m1 "model name" /proc/cpuinfo
grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
python3 - "$WORK" <<'PY'
import sys

import ipadic
import MeCab

work = sys.argv[1]
tagger = MeCab.Tagger(ipadic.MECAB_ARGS + " -Owakati")
for part in ("train", "dev"):
    with open(f"{work}/raw/{part}.ja", encoding="utf-8") as raw, open(f"{work}/mecab/{part}.ja", "w", encoding="utf-8") as out:
        for line in raw:
            out.write(tagger.parse(line.strip()).strip() + "\n")
PY
cp "$WORK/raw/train.en" "$WORK/raw/dev.en" "$WORK/mecab/"
head -n 1 "$WORK/raw/dev.ja" "$WORK/mecab/dev.ja"
uptime
if [ "${FULL:-0}" = 1 ]; then
    train_opts=() score_opts=() tag=full
else
    train_opts=(--no-tune-decoding) score_opts=(--beam 1) tag=s
fi
. "$(dirname "$0")/raw_ja.sh"
train_ja "raw4k-$tag$SEED" "$WORK/raw" "${train_opts[@]}" --tgt-vocab 4000 &
train_ja "mecab-$tag$SEED" "$WORK/mecab" "${train_opts[@]}" &
wait
uptime
for name in "raw4k-$tag$SEED" "mecab-$tag$SEED"; do
    score_on_raw "$name" "${score_opts[@]}"
done
