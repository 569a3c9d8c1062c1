"""Language models: tiny models trained on the sample data must learn; files round-trip; bad input is clean."""

from __future__ import annotations

import json

import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS
from seqtool.data.tokenizers import WordTokenizer
from seqtool.metrics import unigram_perplexity
from seqtool.models.lm import build_lm, lm_config
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import (
    TokenizerConfig,
    evaluate_lm,
    generate,
    lm_train_config,
    load_lm,
    predict_next,
    score_lines,
    train_lm,
)
from tests.conftest import SAMPLE, assert_clean_error, corpus_lines, run_cli

TINY = dict(layers=1, emb_dim=48, hidden=48, dropout=0.0)
TRAIN, DEV = SAMPLE / "enja/train.en", SAMPLE / "enja/dev.en"


@pytest.mark.parametrize("cell", ["lstm", "gru", "transformer"])
def test_tiny_lm_learns(tmp_path, sample, cell):
    torch.set_num_threads(1)
    train, dev = sample / "enja/train.en", sample / "enja/dev.en"
    ws = Workspace(tmp_path)
    cfg = lm_config(cell=cell, heads=2, ff_dim=96, **TINY)
    result = train_lm(
        ws, f"t-{cell}", train, dev, cfg, lm_train_config(epochs=4, batch_tokens=400, lr=3e-3), TokenizerConfig()
    )
    lm = load_lm(ws, f"t-{cell}", "cpu")
    # An untrained model of the same shape is the "step 0" reference.
    untrained = build_lm(lm_config(**{**lm.config["model"]}))
    start_ppl = score_lines(untrained, lm.tokenizer, corpus_lines(dev), torch.device("cpu"))["dev_ppl"]
    final_ppl = evaluate_lm(lm, None)["perplexity"]
    assert final_ppl == pytest.approx(result.best["value"], rel=1e-4)  # saved weights are the best ones
    assert final_ppl < 0.5 * start_ppl
    assert final_ppl < unigram_perplexity(corpus_lines(train), corpus_lines(dev))
    history = lm.md.metrics()
    assert len(history) == 4 and history[-1]["dev_ppl"] < history[0]["dev_ppl"]


def test_window_model_and_round_trip(tmp_path, sample):
    torch.set_num_threads(1)
    ws = Workspace(tmp_path)
    cfg = lm_config(cell="gru", context=5, bidirectional=True, **TINY)
    train_lm(
        ws, "win", sample / "enja/train.en", sample / "enja/dev.en", cfg,
        lm_train_config(epochs=3, batch_tokens=400, lr=3e-3), TokenizerConfig(),
    )  # fmt: skip
    a, b = load_lm(ws, "win", "cpu"), load_lm(ws, "win", "cpu")
    assert predict_next(a, "i can 't", 5) == predict_next(b, "i can 't", 5)
    # The answer is the full forward pass's distribution at the prompt's last position (specials
    # other than </s> left out), and the model has learnt what follows "my father" in train.en.
    top = predict_next(a, "my father", 5)
    ids = [BOS, *a.tokenizer.encode("my father")]
    tgt = torch.tensor([ids])
    with torch.no_grad():
        probs = torch.softmax(a.model.logits(a.model.features(Batch(tgt, tgt))), -1)[0, -1]
    probs[:3] = 0
    values, best = probs.topk(5)
    assert [w for w, _ in top] == [a.tokenizer.id_to_piece(int(i)) for i in best]
    assert [p for _, p in top] == pytest.approx(values.tolist(), abs=1e-5)
    assert {"can", "is"} & {w for w, _ in top}, top  # 23 and 15 of the train.en continuations
    # Sampling with a seed is reproducible.
    assert generate(a, "my father", 8, seed=3) == generate(b, "my father", 8, seed=3)


def test_word_tokenizer_round_trip(sample):
    tok = WordTokenizer.train(corpus_lines(sample / "enja/train.en"), normalize="english")
    text = "i can 't swim ."
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode("I can't swim.") == tok.encode(text)


def test_cli_train_predict_generate_evaluate(tmp_path, sample):
    ws = str(tmp_path / "ws")
    r = run_cli("train-lm", "-w", ws, "--cell", "gru", "--layers", "1", "--emb-dim", "32", "--hidden", "32",
                "--epochs", "2", "--batch-size", "400", "--name", "g", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)  # with --json, stdout is the JSON alone (progress goes to stderr)
    assert summary["name"] == "g" and summary["epochs"] == 2
    lm = load_lm(Workspace(ws), "g", "cpu")
    r = run_cli("predict-next", "i can 't", "--top", "3", "-w", ws, "--json")
    out = json.loads(r.stdout)["results"]
    expected = predict_next(lm, "i can 't", 3)  # the CLI shows what the library computes
    assert [x["word"] for x in out] == [w for w, _ in expected], (out, expected)
    assert [x["probability"] for x in out] == pytest.approx([p for _, p in expected], abs=1e-5)
    r = run_cli("evaluate", "lm", "-w", ws, "--json")
    scores = json.loads(r.stdout)
    # Evaluating the saved weights on the dev set gives the best dev perplexity training recorded.
    assert scores["perplexity"] == pytest.approx(summary["best"]["value"], rel=1e-4)
    assert scores["perplexity"] < unigram_perplexity(corpus_lines(TRAIN), corpus_lines(DEV))
    assert 0 < scores["top1"] <= scores["top5"] < 1
    # Generation: the prompt is echoed, so the test is on the continuation. With --top-k 1 each
    # word is the most probable next word: the first one is predict-next's answer.
    r = run_cli("generate", "--prompt", "my father", "--max-words", "5", "-w", ws, "--json", "--top-k", "1")
    (text,) = json.loads(r.stdout)["samples"]
    assert text.startswith("my father ")
    continuation = text[len("my father ") :].split()
    first = predict_next(lm, "my father", 1)[0][0]
    assert continuation and continuation[0] == first, (text, first)
    assert all(lm.tokenizer.piece_to_id(w) > 3 for w in continuation)  # real words, no specials
    # Sampling (the default) with a seed: the same seed, the same continuation; words from the vocabulary.
    args = ("generate", "--prompt", "my father", "--max-words", "8", "-w", ws, "--json", "-n", "3")
    one, two = (json.loads(run_cli(*args, "--seed", "5").stdout)["samples"] for _ in range(2))
    assert one == two and len(set(one)) > 1, one  # reproducible, and three samples are not all alike
    r = run_cli("models", "-w", ws, "--json")
    assert [m["name"] for m in json.loads(r.stdout)["models"]] == ["g"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--train", "MISSING"], "missing.txt: no such file"),
        (["--train", "EMPTY"], "file is empty"),
        (["--train", "BADUTF"], "bad.txt:2: invalid UTF-8"),
        (["--layers", "0"], "--layers must be > 0"),
        (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
        (["--bidirectional"], "--bidirectional needs --context"),
        (["--cell", "tcn"], "--cell must be one of"),
        (["--name", "../evil"], "invalid model name"),
    ],
)
def test_train_lm_bad_input_is_clean(tmp_path, args, needle):
    files = {"MISSING": tmp_path / "missing.txt", "EMPTY": tmp_path / "empty.txt", "BADUTF": tmp_path / "bad.txt"}
    files["EMPTY"].write_text("")
    files["BADUTF"].write_bytes(b"good line\nbad \xfe line\n")
    args = [str(files.get(a, a)) for a in args]
    ws = tmp_path / "ws"
    r = run_cli("train-lm", "-w", str(ws), "--epochs", "1", *args)
    assert_clean_error(r, needle)
    assert not (ws / "models").exists() or not any((ws / "models").iterdir())


def test_unknown_model_and_wrong_kind(tmp_path):
    ws = tmp_path / "ws"
    assert_clean_error(run_cli("predict-next", "hello", "-w", str(ws)), "no lm model in workspace")
    assert_clean_error(run_cli("evaluate", "lm", "--model", "nope", "-w", str(ws)), "no model named 'nope'")
    md = Workspace(ws).model_dir("emb")
    md.path.mkdir(parents=True)
    md.write_config({"name": "emb", "kind": "embeddings", "created": "x"})
    assert_clean_error(run_cli("generate", "--model", "emb", "-w", str(ws)), "is a embeddings model")


def test_second_run_with_same_name_refused(tmp_path, sample):
    ws = tmp_path / "ws"
    args = ["train-lm", "-w", str(ws), "--layers", "1", "--emb-dim", "16", "--hidden", "16", "--epochs", "1",
            "--name", "x", "--batch-size", "2000"]  # fmt: skip
    assert run_cli(*args).returncode == 0
    before = sorted(p.name for p in (ws / "models/x").iterdir())
    assert_clean_error(run_cli(*args), "already exists")
    assert sorted(p.name for p in (ws / "models/x").iterdir()) == before
