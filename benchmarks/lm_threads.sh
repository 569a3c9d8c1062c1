#!/usr/bin/env bash
# Issue 13: training tokens/s of the 2-layer LSTM LM (256, tied) with 1 and 2 threads, fp32 and bf16
# autocast, seqtool's default recipe against the PyTorch example word_language_model (fp32, its only CPU
# mode), each run alone for MINUTES (default 1), one after the other.
#   EXAMPLE=examples/word_language_model bash benchmarks/lm_threads.sh [DATA_DIR] [MINUTES]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-1}
: "${EXAMPLE:?set EXAMPLE to a checkout of pytorch/examples/word_language_model}"
# shellcheck source=benchmarks/example_lm.sh
. "$(dirname "$0")/example_lm.sh"
WS=${WS:-$(mktemp -d)}
example_data "$D" "$WS/example-data"
echo "| run | threads | precision | training tokens/s |"
echo "|---|---:|---|---:|"
for threads in 1 2; do
    for precision in fp32 bf16; do
        name="lstm-t$threads-$precision"
        seqtool -w "$WS" train-lm --cell lstm --train "$D/train.en" --dev "$D/dev.en" --epochs 1000 --patience 1000 \
            --max-minutes "$MIN" --threads "$threads" --precision "$precision" --name "$name" --json > "$WS/$name.json"
        python3 -c "
import json; r = json.load(open('$WS/$name.json'))
print(f\"| seqtool | $threads | $precision | {r['tokens_per_s']:,.0f} |\")"
    done
    run_example "$threads" "$((MIN * 60 + 15))" 1 "$WS/example-data" "$WS/example.pt" "$WS/example-t$threads.log"
    python3 -c "
import re, statistics
ms = [float(m) for m in re.findall(r'ms/batch\s+([0-9.]+)', open('$WS/example-t$threads.log').read())]
print(f'| example | $threads | fp32 | {700 / (statistics.median(ms) / 1000):,.0f} |' if ms else '| example | $threads | fp32 | (no log line) |')"
done
echo "workspace: $WS"
