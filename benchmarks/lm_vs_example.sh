#!/usr/bin/env bash
# Issue 13 side by side: seqtool train-lm (2-layer LSTM 256, tied) against the PyTorch example
# word_language_model, same data, same minutes, both at once with one thread each (or set SEQUENTIAL=1 to run
# them one after the other with 2 threads each). Nothing of the example is vendored: clone it yourself,
#   git clone https://github.com/pytorch/examples && EXAMPLE=examples/word_language_model
# and run
#   EXAMPLE=... bash benchmarks/lm_vs_example.sh [DATA_DIR] [MINUTES] [extra train-lm options...]
# The example's command line is the one of its README with the sizes of the issue (benchmarks/example_lm.sh).
# It has no time budget, so it is stopped by `timeout`; its log has one "valid ppl" line per epoch. Its
# perplexity is per token with one <eos> per line; seqtool reports per word (the same <eos>-including
# log-likelihood divided by the words only), so the example's figure is converted:
#   per-word ppl = per-token ppl ** ((words + lines) / words)        (words, lines of dev.en, printed below)
# Run `python3 ../shared/bench/speed-ref` first and scale MINUTES by its factor (10 reference minutes).
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-10}
shift 2 || true
: "${EXAMPLE:?set EXAMPLE to a checkout of pytorch/examples/word_language_model}"
# shellcheck source=benchmarks/example_lm.sh
. "$(dirname "$0")/example_lm.sh"
WS=${WS:-$(mktemp -d)}
DATA="$WS/example-data"
example_data "$D" "$DATA"
THREADS=1; [ "${SEQUENTIAL:-0}" = 1 ] && THREADS=2
example() { run_example "$THREADS" "$((MIN * 60))" 1000 "$DATA" "$WS/example.pt" "$WS/example.log"; }
ours() {
    seqtool -w "$WS" train-lm --cell lstm --layers 2 --emb-dim 256 --hidden 256 --tie-weights \
        --train "$D/train.en" --dev "$D/dev.en" --epochs 1000 --patience 1000 --max-minutes "$MIN" \
        --threads "$THREADS" --name lstm-vs-example --json "$@" > "$WS/seqtool.json"
}
if [ "${SEQUENTIAL:-0}" = 1 ]; then example; ours "$@"; else example & ours "$@"; wait; fi
words=$(wc -w < "$D/dev.en"); lines=$(wc -l < "$D/dev.en")
echo "dev.en: $words words, $lines lines; exponent $(python3 -c "print(($words + $lines) / $words)")"
echo "example (per-token valid ppl per epoch, then per word):"
grep "valid ppl" "$WS/example.log" | python3 -c "
import re, sys
for line in sys.stdin:
    ppl = float(re.search(r'valid ppl\s+([0-9.]+)', line).group(1))
    print(line.strip(), '| per word %.2f' % ppl ** (($words + $lines) / $words))"
grep "tokens/s\|ms/batch" "$WS/example.log" | tail -3 || true
echo "seqtool (per-word dev perplexity per epoch, elapsed seconds):"
seqtool -w "$WS" evaluate lm --model lstm-vs-example --data "$D/dev.en" --json
python3 -c "
import json
for line in open('$WS/models/lstm-vs-example/metrics.jsonl'):
    r = json.loads(line); print(r['epoch'], r['elapsed_s'], r['dev_ppl'], r['tokens_per_s'])"
seqtool -w "$WS" plot curves lstm-vs-example || true
echo "workspace: $WS"
