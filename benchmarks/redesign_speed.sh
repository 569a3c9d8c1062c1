#!/usr/bin/env bash
# Speed kept through a code change: the same commands on an old checkout and the current tree, alternated,
# alone on the machine. Usage: benchmarks/redesign_speed.sh OLD_CHECKOUT [TRAIN_MINUTES]
#   OLD_CHECKOUT: e.g. `git worktree add /tmp/old e48442e` (run through PYTHONPATH, nothing installed)
# Prints the CPU, speed-ref's factor, start-up medians (5 alternating runs) and train-mt tokens/s of both.
set -euo pipefail
OLD=$1
MINUTES=${2:-1.5}
NEW=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DATA:-$NEW/../shared/data/small_parallel_enja}
WORK=$(mktemp -d)
grep -m1 'model name' /proc/cpuinfo
grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
uptime
python3 "$NEW/../shared/bench/speed-ref" 2>&1 | tail -2 || true

# A workspace both versions can read: the legacy fixture (written by e48442e).
cp -r "$NEW/tests/fixtures/legacy_e48442e" "$WORK/ws"
time_cmd() {  # seconds of one run of `python3 -m seqtool ARGS` with PYTHONPATH=$1
    local tree=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$WORK/ws" && PYTHONPATH="$tree" python3 -m seqtool "$@" > /dev/null)
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in "translate:translate -m mt-transformer --engine torch --threads 1 -w . i_can_'t_swim" "help:--help"; do
    label=${what%%:*}
    read -r -a args <<< "${what#*:}"
    args=("${args[@]//_/ }")
    old_times=() new_times=()
    for _ in 1 2 3 4 5; do
        old_times+=("$(time_cmd "$OLD" "${args[@]}")")
        new_times+=("$(time_cmd "$NEW" "${args[@]}")")
    done
    echo "$label start-up median s: old $(printf '%s\n' "${old_times[@]}" | median) new $(printf '%s\n' "${new_times[@]}" | median)"
done

# Training throughput: the default Transformer recipe, the same budget, 2 threads, one after the other.
for tree in "$OLD" "$NEW"; do
    PYTHONPATH="$tree" SEQTOOL_ALLOCATOR=system python3 -m seqtool train-mt --src "$DATA/train.en" --tgt "$DATA/train.ja" \
        --dev-src "$DATA/dev.en" --dev-tgt "$DATA/dev.ja" --max-minutes "$MINUTES" --threads 2 --name speed \
        --workspace "$WORK/train-$(basename "$tree")" --json 2>/dev/null \
        | python3 -c "import json,sys; r=json.load(sys.stdin); print('$tree', 'train-mt tokens/s', round(r['tokens_per_s']), 'steps', r['steps'])"
done
rm -rf "$WORK"
