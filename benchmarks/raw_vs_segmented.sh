#!/usr/bin/env bash
# Issue 28: does the target side's segmentation matter? The default train-mt recipe trained twice on
# small_parallel_enja en->ja, once on the corpus as shipped (Japanese split into words by KyTea) and once with
# the Japanese spaces removed from train and dev (raw, as users' corpora are). Both are then scored the same
# way: outputs without spaces (`translate` joins Japanese words by default) against the raw dev references,
# BLEU with sacrebleu's ja-mecab tokenizer (and chrF). The two runs train at once, one thread each, so they
# share the machine equally; each run's own dev BLEU (its training-time tokenizer) is printed too.
# Since b7a76e9 the raw run's target is split into words by MeCab before sentencepiece (train-mt --segment
# auto); before it (and with --segment none) sentencepiece learned pieces on the raw text.
#
#   bash benchmarks/raw_vs_segmented.sh ../shared/data/small_parallel_enja MINUTES [SEED]
set -euo pipefail
D=$(realpath "${1:-../shared/data/small_parallel_enja}")
MINUTES=${2:-62}
SEED=${3:-1}
WORK=${WORK:-/tmp/rawseg}
mkdir -p "$WORK/raw"
grep -m1 "model name" /proc/cpuinfo
grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
for part in train dev; do
    cp "$D/$part.en" "$WORK/raw/$part.en"
    sed 's/ //g' "$D/$part.ja" > "$WORK/raw/$part.ja"
done
head -n 1 "$D/dev.ja" "$WORK/raw/dev.ja"
uptime
. "$(dirname "$0")/raw_ja.sh"
train_ja "seg-s$SEED" "$D" &
train_ja "raw-s$SEED" "$WORK/raw" &
wait
uptime
for name in "seg-s$SEED" "raw-s$SEED"; do
    score_on_raw "$name"  # beam 5 and the length penalty the run tuned
done
