#!/usr/bin/env bash
# Issue 28, after benchmarks/raw_vs_segmented.sh: two ways to give a raw Japanese target better pieces,
# screened side by side (one thread each, at once) for MINUTES:
#   raw-4k   the raw target (spaces removed) with --tgt-vocab 4000 instead of 8,000
#   mecab    the raw target split into words by MeCab (IPAdic, as sacrebleu's ja-mecab) before training: what a
#            built-in word segmenter would give
# Both are scored the same way at the end: greedy `translate`, outputs without spaces, against the raw dev
# references with ja-mecab. Needs the raw files that raw_vs_segmented.sh wrote to $WORK/raw.
#
#   WORK=/tmp/rawseg bash benchmarks/raw_target_screen.sh ../shared/data/small_parallel_enja MINUTES [SEED]
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
train() {  # $1: name, $2: folder, then extra options
    local name=$1 folder=$2
    shift 2
    seqtool -w "$WORK/ws" train-mt --src "$folder/train.en" --tgt "$folder/train.ja" --dev-src "$folder/dev.en" \
        --dev-tgt "$folder/dev.ja" --max-minutes "$MINUTES" --threads 1 --seed "$SEED" --no-tune-decoding \
        --name "$name" --json "$@" > "$WORK/$name.json" 2> "$WORK/$name.err"
}
train "raw4k-s$SEED" "$WORK/raw" --tgt-vocab 4000 &
train "mecab-s$SEED" "$WORK/mecab" &
wait
uptime
for name in "raw4k-s$SEED" "mecab-s$SEED"; do
    seqtool -w "$WORK/ws" translate -m "$name" --engine torch --threads 2 --beam 1 -i "$WORK/raw/dev.en" \
        -o "$WORK/$name.hyp"
    echo "== $name: $(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); b=r['best']; print(f\"epochs {r['epochs']}, own dev BLEU {b['value']:.2f} (epoch {b.get('epoch')})\")" "$WORK/$name.json")"
    seqtool evaluate bleu --hyp "$WORK/$name.hyp" --ref "$WORK/raw/dev.ja" --tokenize ja-mecab --json \
        | python3 -c "import json,sys; r=json.load(sys.stdin); print('greedy, ja-mecab on raw refs: BLEU', r['bleu'], 'chrF', r['chrf'])"
done
