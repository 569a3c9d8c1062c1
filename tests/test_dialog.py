"""Dialogue models: HRED follows the conversation where seq2seq on the last utterance cannot; VHRED varies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqtool.models.hred import DialogConfig
from seqtool.store.workspace import Workspace
from seqtool.tasks.dialog import (
    dialog_train_config,
    evaluate_dialog,
    examples,
    load_dialog,
    read_dialogues,
    respond,
    train_dialog,
)
from tests.conftest import SAMPLE, assert_clean_error, make_lm_folder, run_cli, run_main

DIALOG = SAMPLE / "dialog"
TINY = dict(emb_dim=64, hidden=64, context_hidden=64, dropout=0.0)


def _train(path: Path, name: str, train: str, dev: str, epochs: int, **model) -> Workspace:
    torch.set_num_threads(1)
    ws = Workspace(path)
    cfg = DialogConfig(**{**TINY, **model})
    train_dialog(
        ws, name, DIALOG / train, DIALOG / dev, cfg, dialog_train_config(epochs=epochs, batch_tokens=256, lr=3e-3)
    )
    return ws


def test_reading_dialogues(tmp_path):
    f = tmp_path / "d.txt"
    f.write_text("A: hello .\nB: hi .\nA: how are you ?\n\n\nA: bye .\nB: see you .\n\nA: alone\n", encoding="utf-8")
    dialogues = read_dialogues(f)
    assert dialogues == [["hello .", "hi .", "how are you ?"], ["bye .", "see you ."]]  # one-line block dropped
    assert examples(dialogues, 1)[1] == (["hi ."], "how are you ?")
    assert examples(dialogues, 3)[1] == (["hello .", "hi ."], "how are you ?")


def test_hred_follows_the_conversation_seq2seq_cannot(tmp_path):
    # recall.*: "i like red ." / "really ?" / "so you like red ." -- the colour is two turns back.
    dev = read_dialogues(DIALOG / "recall.dev")
    correct = {}
    for k in (3, 1):  # context 1 = a seq2seq model of the last utterance, trained the same way
        ws = _train(tmp_path / f"k{k}", "m", "recall.train", "recall.dev", 20, context=k)
        dm = load_dialog(ws, "m", "cpu")
        correct[k] = sum(respond(dm, d[:2])[0] == d[2] for d in dev) / len(dev)
    assert correct[3] >= 0.8, correct
    assert correct[1] <= 0.4, correct  # 8 colours: it can only guess
    assert correct[3] > correct[1] + 0.4


def test_vhred_replies_are_more_distinct_than_hreds(tmp_path):
    scores = {}
    for arch in ("hred", "vhred"):
        ws = _train(tmp_path / arch, arch, "train.en", "dev.en", 8, arch=arch, kl_anneal_steps=150)
        dm = load_dialog(ws, arch, "cpu")
        scores[arch] = evaluate_dialog(dm, None, samples=5)
    assert scores["vhred"]["distinct2"] > scores["hred"]["distinct2"], scores
    assert scores["vhred"]["kl"] > 0
    assert scores["hred"]["perplexity"] < 20 and scores["vhred"]["perplexity"] < 30


def test_dialog_cli_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """train-dialog, respond, chat, evaluate and models work end to end on a tiny model; bad data, a bad
    --arch and a model of the wrong kind are one-line errors naming the problem."""
    ws = str(tmp_path / "ws")
    bad = tmp_path / "one.txt"
    bad.write_text("A: hello .\n\nB: hi .\n", encoding="utf-8")
    assert_clean_error(run_cli("train-dialog", "--data", str(bad), "-w", ws), "at least two utterances")
    assert_clean_error(run_cli("train-dialog", "--arch", "lstm", "-w", ws), "--arch")
    assert_clean_error(run_cli("respond", "-w", ws), "at least one utterance")
    r = run_cli(
        "train-dialog", "--data", str(DIALOG / "dev.en"), "--dev", str(DIALOG / "dev.en"), "--epochs", "1",
        "--emb-dim", "16", "--hidden", "16", "--context-hidden", "16", "--name", "d", "--threads", "1", "-w", ws,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("respond", "hello , how are you ?", "-n", "2", "--json", "-w", ws)
    assert r.returncode == 0 and len(json.loads(r.stdout)["replies"]) == 2
    r = run_cli("chat", "-w", ws, input="hello , how are you ?\nsee you .\n\n")
    assert r.returncode == 0 and r.stdout.count("\n") >= 3, r.stdout
    r = run_cli("evaluate", "dialog", "--samples", "2", "--json", "-w", ws)
    assert r.returncode == 0 and {"perplexity", "distinct1", "distinct2"} <= set(json.loads(r.stdout))
    r = run_cli("models", "--json", "-w", ws)
    assert r.returncode == 0 and json.loads(r.stdout)["models"][0]["kind"] == "dialog"
    # A dialogue model is not a language model, and the other way round: a one-line error (exit code 2) that
    # names the model given with --model, says what kind it is and which kind the command needs instead.
    make_lm_folder(Workspace(Path(ws)).model_dir("lm").path, "lm")
    for command, needle in (
        (["generate", "--model", "d"], "model 'd' is a dialog model, but this command needs a lm model"),
        (["vae", "reconstruct", "hi", "--model", "d"], "model 'd' is a dialog model, but this command needs a lm model"),
        (["respond", "hello , how are you ?", "--model", "lm"], "model 'lm' is a lm model, but this command needs a dialog model"),
    ):  # fmt: skip
        code, out, err = run_main(capsys, *command, "-w", ws)
        assert code == 2 and "Traceback" not in out + err, (command, code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (command, err)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_sample_dialogues_read(lang):
    dialogues = read_dialogues(DIALOG / f"train.{lang}")
    assert len(dialogues) >= 300 and all(len(d) >= 2 for d in dialogues)
