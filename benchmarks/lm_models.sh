#!/usr/bin/env bash
# The course's LMs side by side (docs/benchmarks.md): RNN (tanh), LSTM, GRU, Transformer and WaveNet trained
# MIN minutes each with their default recipes on train.en, then the sentence VAE; dev per-word perplexity and
# training tokens/s (`models compare`), generation words/s (WaveNet: incremental queues vs full recompute),
# the VAE's perplexity bound, KL and five interpolations.
#   bash benchmarks/lm_models.sh [DATA_DIR] [MINUTES]
# PAIRS (default "lstm,gru rnn,transformer wavenet,vae"): groups of models trained at once, one thread each,
# so that two cores hold two runs of the same thread count; SEQUENTIAL=1 trains them one after the other with
# 2 threads each instead. transformer-linear is the Transformer with the budget-aware linear decay instead of
# its default plateau schedule (the comparison behind the Transformer LM's default).
# Run `python3 ../shared/bench/speed-ref` first and scale MINUTES by its factor.
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-10}
WS=${WS:-$(mktemp -d)}
mkdir -p "$WS"
PAIRS=${PAIRS:-"lstm,gru rnn,transformer wavenet,vae"}
THREADS=1; [ "${SEQUENTIAL:-0}" = 1 ] && THREADS=2
RUN=(--train "$D/train.en" --dev "$D/dev.en" --epochs 1000 --patience 1000 --max-minutes "$MIN" --threads "$THREADS")
train() {
    local name=$1 options
    case $name in
        wavenet) options="--cell wavenet --layers 8 --kernel 2 --dilation-cycle 4 --channels 256" ;;
        transformer-linear) options="--cell transformer --schedule linear" ;;
        *) options="--cell $name" ;;
    esac
    # shellcheck disable=SC2086
    /usr/bin/time -f "$name: %e s wall, peak RSS %M KB" seqtool -w "$WS" train-lm --name "$name" "${RUN[@]}" \
        $options --json > "$WS/$name.json" 2> "$WS/$name.err" || { cat "$WS/$name.err"; return 1; }
    tail -n 1 "$WS/$name.err"
}
names=()
for group in $PAIRS; do
    IFS=, read -r -a members <<< "$group"
    names+=("${members[@]}")
    if [ "${SEQUENTIAL:-0}" = 1 ]; then
        for m in "${members[@]}"; do train "$m"; done
    else
        for m in "${members[@]}"; do train "$m" & done
        wait
    fi
done
lms=(); for n in "${names[@]}"; do [ "$n" != vae ] && lms+=("$n"); done
seqtool -w "$WS" models compare "${lms[@]}"
python3 benchmarks/generation_speed.py "$WS" "${lms[@]}" --words 500 --threads 2
if [[ " ${names[*]} " == *" vae "* ]]; then
    seqtool -w "$WS" evaluate lm --model vae --data "$D/dev.en"
    python3 -c "
import json
for line in open('$WS/models/vae/metrics.jsonl'):
    r = json.loads(line); print({k: r[k] for k in r if k in ('epoch', 'elapsed_s', 'dev_ppl', 'kl', 'dev_kl')})"
    for pair in "i can 't swim .|my father is a teacher ." "he likes cats .|where is the station ?" \
        "i went to tokyo last year .|she will come tomorrow ." "this is my book .|do you have a car ?" \
        "it is cold today .|we played tennis after school ."; do
        seqtool -w "$WS" vae interpolate --model vae "${pair%%|*}" "${pair##*|}" --steps 5
    done
fi
echo "workspace: $WS"
