# Shared by lm_vs_example.sh and lm_threads.sh (source it): the PyTorch example word_language_model, run
# with the command line of its README (LSTM, --tied) at the sizes:
#   python main.py --data DIR --model LSTM --emsize 256 --nhid 256 --nlayers 2 --dropout 0.3 --tied \
#       --lr 20 --clip 0.25 --batch_size 20 --bptt 35 --epochs EPOCHS --save model.pt
# EXAMPLE must point to a checkout of pytorch/examples/word_language_model (nothing of it is vendored).

# example_data D DIR: the corpus D (train.en, dev.en) in the example's layout (train/valid/test.txt) in DIR.
example_data() {
    mkdir -p "$2"
    cp "$1/train.en" "$2/train.txt"; cp "$1/dev.en" "$2/valid.txt"; cp "$1/dev.en" "$2/test.txt"
}

# run_example THREADS SECONDS EPOCHS DATA SAVE LOG: train it with THREADS threads for at most SECONDS (it has
# no time budget of its own: `timeout` stops it), its output in LOG.
run_example() {
    (cd "$EXAMPLE" && OMP_NUM_THREADS=$1 timeout "$2" python3 main.py --data "$4" --model LSTM --emsize 256 \
        --nhid 256 --nlayers 2 --dropout 0.3 --tied --lr 20 --clip 0.25 --batch_size 20 --bptt 35 \
        --epochs "$3" --save "$5") > "$6" 2>&1 || true
}
