# Shared by mt_sweep.sh and lm_sweep.sh (source it; they set WS, BUDGET, TRIAL and FINAL, and write
# $WS/base.yaml and $WS/space.yaml): the issue-29 protocol, a budgeted sweep and then its best recipe against
# the default at the full budget.

# machine: the CPU facts printed beside every timed figure.
machine() {
    grep -m1 "model name" /proc/cpuinfo
    grep -q avx512_bf16 /proc/cpuinfo && echo "avx512_bf16: yes" || echo "avx512_bf16: no"
}

# sweep_then_finals COMMAND: `seqtool sweep COMMAND` over $WS/space.yaml for BUDGET minutes in TRIAL-minute
# trials (two at once, one thread each), then the sweep's best run file and $WS/base.yaml trained at once for
# FINAL minutes, one thread each, with seed SEED (default 1), as the models `best-sSEED` and `default-sSEED`
# (one pair per seed). The --json summaries land in $WS/sweep.json and $WS/{best,default}-sSEED.json, the
# training logs in $WS/{best,default}-sSEED.log.
#
# A sweep longer than one sitting is run in parts: SWEEP_ONLY=1 stops after the sweep (BUDGET is then the
# minutes spent so far, in all), and RESUME=1 continues it (`sweep --resume`) up to the new BUDGET, trials
# already finished and minutes already spent counting. Each part ends its trials by its BUDGET, so none is lost.
sweep_then_finals() {
    local command=$1 study resume=()
    study=${command#train-}
    [[ -n ${RESUME:-} ]] && resume=(--resume)
    date -u +"sweep start %H:%M:%S"; uptime
    seqtool -w "$WS" sweep "$command" --config "$WS/base.yaml" --space "$WS/space.yaml" --budget-minutes "$BUDGET" \
        --trial-minutes "$TRIAL" --trials 200 --jobs 2 --threads 1 --name "$study" --json "${resume[@]}" \
        > "$WS/sweep.json"
    date -u +"sweep end %H:%M:%S"; uptime
    [[ -n ${SWEEP_ONLY:-} ]] && return 0
    cat "$WS/sweeps/$study/best.yaml"
    # --seed on the command line: best.yaml carries the sweep's seed, and a second seed must reach both runs.
    local seed=${SEED:-1}
    seqtool -w "$WS" "$command" --config "$WS/sweeps/$study/best.yaml" --seed "$seed" --max-minutes "$FINAL" \
        --threads 1 --name "best-s$seed" --json > "$WS/best-s$seed.json" 2> "$WS/best-s$seed.log" &
    seqtool -w "$WS" "$command" --config "$WS/base.yaml" --seed "$seed" --max-minutes "$FINAL" --threads 1 \
        --name "default-s$seed" --json > "$WS/default-s$seed.json" 2> "$WS/default-s$seed.log" &
    wait
    date -u +"finals end %H:%M:%S"; uptime
}

# sweep_summary: the trials by state, the best one, and each trial's value and parameters.
sweep_summary() {
    python3 - "$WS/sweep.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
states = {}
for t in s["trials"]:
    states[t["state"]] = states.get(t["state"], 0) + 1
print("trials:", states, "spent_s:", s["spent_s"], "best trial:", s["best"]["number"], s["best"]["params"],
      "its value", round(s["best"]["value"], 2))
for t in s["trials"]:
    print(" ", t["number"], t["state"], t.get("value"), t.get("params"))
PY
}
