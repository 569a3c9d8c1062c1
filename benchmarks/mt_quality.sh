#!/usr/bin/env bash
# Translation quality with the default recipe: 60 minutes of `seqtool train-mt`, then dev BLEU/chrF/TER with
# beam 5 (sacrebleu, tokenize none), and the time to translate the 500 dev sentences.
#   bash benchmarks/mt_quality.sh [DATA_DIR] [MINUTES]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-60}
WS=${WS:-$(mktemp -d)}
mkdir -p "$WS"
seqtool -w "$WS" train-mt --src "$D/train.en" --tgt "$D/train.ja" --dev-src "$D/dev.en" --dev-tgt "$D/dev.ja" \
    --max-minutes "$MIN" --threads 2 --name best --json
seqtool -w "$WS" evaluate mt --model best --src "$D/dev.en" --ref "$D/dev.ja" --beam 5 --threads 2 --json
/usr/bin/time -f "whole process: %e s, peak RSS %M KB" \
    seqtool -w "$WS" translate --model best --input "$D/dev.en" --output "$WS/dev.hyp" --tokenized --beam 5 --threads 2
/usr/bin/time -f "single sentence, model load included: %e s" seqtool -w "$WS" translate --model best "i can't swim"
echo "workspace: $WS"
