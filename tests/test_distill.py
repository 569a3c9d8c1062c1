"""`seqtool distill`: a student trains on its teacher's beam-search translations through train-mt."""

from __future__ import annotations

import json

import torch

from seqtool.store.workspace import Workspace
from seqtool.tasks.mt import MTDataConfig, mt_train_config, train_mt
from tests.conftest import SAMPLE, assert_clean_error, run_cli


def test_student_learns_from_teacher_output(tmp_path):
    torch.set_num_threads(1)
    ws = Workspace(tmp_path / "ws")
    d = SAMPLE / "enja"
    train_mt(
        ws, "teacher", d / "train.en", d / "train.ja", d / "dev.en", d / "dev.ja", "gru",
        {"emb_dim": 64, "hidden": 64, "dropout": 0.0, "attention": "luong"},
        mt_train_config("gru", epochs=6, batch_tokens=1000, lr=3e-3), MTDataConfig(src_vocab=300, tgt_vocab=300),
    )  # fmt: skip
    w = str(ws.root)
    out = run_cli("distill", "--teacher", "teacher", "--name", "student", "--arch", "gru", "--emb-dim", "32",
                  "--hidden", "32", "--src-vocab", "300", "--tgt-vocab", "300", "--epochs", "4", "--batch-size",
                  "1000", "--lr", "0.003", "--teacher-beam", "3", "--threads", "1", "-w", w, "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    cfg = json.loads((ws.root / "models" / "student" / "config.json").read_text())
    assert cfg["distill"]["teacher"] == "teacher" and cfg["distill"]["beam"] == 3
    # Like train-mt, distill ends by tuning the length penalty on dev; translate then uses it.
    assert cfg["decoding"]["tuned_on"] == str(d / "dev.en")
    assert json.loads(out.stdout)["decoding"] == cfg["decoding"]
    kept = ws.root / "models" / "student" / "distill.ja"
    assert cfg["data"]["train_tgt"] == str(kept)
    # The training target is the teacher's output: one line per source line, and those lines are the
    # teacher's beam-3 translations (segmented), not the corpus's references.
    teacher_out = kept.read_text(encoding="utf-8").splitlines()
    sources = (d / "train.en").read_text(encoding="utf-8").splitlines()
    references = (d / "train.ja").read_text(encoding="utf-8").splitlines()
    assert len(teacher_out) == len(sources)
    # The same batches as distill's (the output-length cap depends on the longest source of a batch).
    again = run_cli("translate", "-m", "teacher", "--tokenized", "--beam", "3", "-i", str(d / "train.en"), "-w", w)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == teacher_out
    differ = sum(t != r for t, r in zip(teacher_out, references, strict=True))
    assert differ > 0  # the teacher is imperfect (72 of 1,274 lines here): so not a copy of train.ja
    assert not (ws.root / ".distill-student").exists()
    history = [json.loads(line) for line in (ws.root / "models" / "student" / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["dev_bleu"] > history[0]["dev_bleu"]
    assert run_cli("translate", "-m", "student", "-w", w, "I can't swim.").returncode == 0
    # Bad input: unknown teacher, taken name; nothing is left behind.
    assert_clean_error(run_cli("distill", "--teacher", "nope", "--name", "s2", "-w", w), "no model named 'nope'")
    assert_clean_error(run_cli("distill", "--teacher", "teacher", "--name", "student", "-w", w), "already exists")
    assert not (ws.root / "models" / "s2").exists() and not (ws.root / ".distill-s2").exists()
