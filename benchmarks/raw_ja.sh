# Shared by raw_vs_segmented.sh and raw_target_screen.sh (source it; they set WORK, MINUTES and SEED): train an
# en->ja translator on one thread, and score it the one way both scripts compare runs.

# train_ja NAME FOLDER [train-mt options...]: the default recipe on FOLDER/{train,dev}.{en,ja}, one thread,
# MINUTES, into the workspace $WORK/ws; its --json summary in $WORK/NAME.json, its log in $WORK/NAME.err.
train_ja() {
    local name=$1 folder=$2
    shift 2
    seqtool -w "$WORK/ws" train-mt --src "$folder/train.en" --tgt "$folder/train.ja" --dev-src "$folder/dev.en" \
        --dev-tgt "$folder/dev.ja" --max-minutes "$MINUTES" --threads 1 --seed "$SEED" --name "$name" --json "$@" \
        > "$WORK/$name.json" 2> "$WORK/$name.err"
}

# score_on_raw NAME [translate options...]: translate the dev source with NAME (outputs without spaces, as
# `translate` joins Japanese words), then BLEU with ja-mecab and chrF against the raw dev references
# ($WORK/raw/dev.ja); the scores in $WORK/NAME.score.json.
score_on_raw() {
    local name=$1
    shift
    seqtool -w "$WORK/ws" translate -m "$name" --engine torch --threads 2 -i "$WORK/raw/dev.en" \
        -o "$WORK/$name.hyp" "$@"
    echo "== $name: $(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); b=r['best']; print(f\"epochs {r['epochs']}, own dev BLEU {b['value']:.2f} (epoch {b.get('epoch')})\")" "$WORK/$name.json")"
    head -n 2 "$WORK/$name.hyp"
    seqtool evaluate bleu --hyp "$WORK/$name.hyp" --ref "$WORK/raw/dev.ja" --tokenize ja-mecab --json \
        > "$WORK/$name.score.json"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('ja-mecab on raw refs: BLEU', r['bleu'], 'chrF', r['chrf'], '|', r['signatures']['bleu'])" "$WORK/$name.score.json"
}
