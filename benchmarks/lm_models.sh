#!/usr/bin/env bash
# The course's LMs side by side (docs/benchmarks.md): LSTM, GRU, Transformer and WaveNet trained MIN minutes
# each, one after the other, same thread count, on train.en; dev per-word perplexity and training tokens/s
# (`models compare`), generation words/s (WaveNet: incremental queues vs full recompute); then the sentence
# VAE's perplexity bound, KL and five interpolations.
#   bash benchmarks/lm_models.sh [DATA_DIR] [MINUTES]
set -euo pipefail
D=${1:-../shared/data/small_parallel_enja}
MIN=${2:-10}
WS=${WS:-$(mktemp -d)}
RUN=(--train "$D/train.en" --dev "$D/dev.en" --epochs 1000 --patience 1000 --max-minutes "$MIN" --threads 2)
seqtool -w "$WS" train-lm --cell lstm --name lstm "${RUN[@]}" --json
seqtool -w "$WS" train-lm --cell gru --name gru "${RUN[@]}" --json
seqtool -w "$WS" train-lm --cell transformer --name transformer "${RUN[@]}" --json
seqtool -w "$WS" train-lm --cell wavenet --layers 8 --kernel 2 --dilation-cycle 4 --channels 256 --name wavenet \
    "${RUN[@]}" --json
seqtool -w "$WS" models compare lstm gru transformer wavenet
python benchmarks/generation_speed.py "$WS" lstm gru transformer wavenet --words 500 --threads 2
seqtool -w "$WS" train-lm --cell vae --name vae "${RUN[@]}" --json
seqtool -w "$WS" evaluate lm --model vae --data "$D/dev.en"
for pair in "i can 't swim .|my father is a teacher ." "he likes cats .|where is the station ?" \
    "i went to tokyo last year .|she will come tomorrow ." "this is my book .|do you have a car ?" \
    "it is cold today .|we played tennis after school ."; do
    seqtool -w "$WS" vae interpolate --model vae "${pair%%|*}" "${pair##*|}" --steps 5
done
echo "workspace: $WS"
