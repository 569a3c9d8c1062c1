"""Budget-aware learning-rate schedules: values at chosen points, zero when the budget is spent,
the same curve after a resume; AdamW and the weight EMA (evaluated and saved when enabled)."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.errors import OptionError, TrainingInterrupted
from seqtool.models.lm import build_lm, lm_config
from seqtool.store.weights import load_weights
from seqtool.store.workspace import Workspace
from seqtool.training.config import Objective, TrainConfig
from seqtool.training.schedule import budget_fraction, lr_at
from seqtool.training.trainer import Trainer

V = 12


def test_linear_and_cosine_values():
    # warm-up: linear ramp to the peak over `warmup` steps
    assert lr_at("linear", 2.0, 5, 10, 0.0) == pytest.approx(1.0)
    assert lr_at("cosine", 2.0, 5, 10, 0.0) == pytest.approx(1.0)
    # after warm-up: the fraction of the budget used decides
    assert lr_at("linear", 2.0, 50, 10, 0.25) == pytest.approx(1.5)
    assert lr_at("cosine", 2.0, 50, 10, 0.25) == pytest.approx(1.0 + math.cos(math.pi * 0.25))
    assert lr_at("cosine", 2.0, 50, 10, 0.5) == pytest.approx(1.0)
    for name in ("linear", "cosine"):
        assert lr_at(name, 2.0, 500, 10, 1.0) == 0.0  # exactly zero at the end of the budget
        assert lr_at(name, 2.0, 500, 10, 1.7) == 0.0  # and after it
        assert lr_at(name, 2.0, 500, 0, 0.0) == 2.0  # warmup 0: the peak at once
    # the old schedules are unchanged
    assert lr_at("inverse_sqrt", 1.0, 400, 100, 0.9) == pytest.approx(0.5)
    assert lr_at("plateau", 1.0, 400, 100, 0.9, scale=0.25) == 0.25


def test_budget_fraction_takes_the_nearer_budget():
    assert budget_fraction(30.0, 1.0, 0.2, 2) == pytest.approx(0.5)  # time is nearer
    assert budget_fraction(30.0, 1.0, 1.8, 2) == pytest.approx(0.9)  # epochs are nearer
    assert budget_fraction(1e6, None, 1.0, 4) == pytest.approx(0.25)  # no time budget
    assert budget_fraction(90.0, 1.0, 0.0, 4) == 1.0


def test_unknown_schedule_and_bad_ema_are_option_errors():
    with pytest.raises(OptionError, match="--schedule"):
        TrainConfig(schedule="linear-ish").validate()
    with pytest.raises(OptionError, match="--ema"):
        TrainConfig(ema=1.0).validate()
    with pytest.raises(OptionError, match="--optimizer"):
        TrainConfig(optimizer="lion").validate()


def _data(n: int = 24, t: int = 8) -> list[Batch]:
    """Sentences `a b a b ...` and `c d c d ...`: a tiny LM learns them within a few steps."""
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(n):
        a = int(torch.randint(4, V - 1, (1,), generator=g))
        rows.append([a if i % 2 == 0 else a + 1 for i in range(t)])
    ids = torch.tensor(rows)
    return [Batch(tgt_in=torch.cat([torch.full((4, 1), 2), ids[i : i + 4, :-1]], 1), tgt_out=ids[i : i + 4])
            for i in range(0, n, 4)]  # fmt: skip


def _trainer(tmp_path, name: str, lrs: list[float], **cfg) -> Trainer:
    torch.manual_seed(0)
    md = Workspace(tmp_path).model_dir(name)
    md.path.mkdir(parents=True, exist_ok=True)
    batches = _data()
    model = build_lm(lm_config(vocab_size=V, cell="gru", layers=1, emb_dim=16, hidden=16, dropout=0.0))

    def evaluate(m) -> dict[str, float]:
        with torch.no_grad():
            loss = sum(float(torch.nn.functional.cross_entropy(m.logits(m.features(b)).flatten(0, 1),
                                                               b.tgt_out.flatten())) for b in batches)  # fmt: skip
        return {"dev_loss": loss}

    def progress(event: dict) -> None:
        if event["event"] == "step":
            lrs.append(event["lr"])

    defaults = dict(epochs=3, lr=1e-2, schedule="linear", warmup=4, patience=100, precision="fp32")
    return Trainer(
        model, TrainConfig(**{**defaults, **cfg}), md, epoch_batches=lambda e: [np.array([i]) for i in range(len(batches))],
        make_batch=lambda idx: batches[int(idx[0])], evaluate=evaluate, objective=Objective("dev_loss", False),
        device=torch.device("cpu"), progress=progress,
    )  # fmt: skip


def test_epoch_budget_ends_at_zero_and_resume_follows_the_same_curve(tmp_path, monkeypatch):
    lrs: list[float] = []
    whole = _trainer(tmp_path, "whole", lrs)
    whole.fit()
    steps = 3 * 6
    assert len(lrs) == steps
    assert lrs[:4] == pytest.approx([1e-2 * k / 4 * (1 - (k - 1) / steps) for k in range(1, 5)])
    assert lrs[-1] == pytest.approx(1e-2 / steps)  # the last step starts with 1/steps of the budget left
    assert all(b < a for a, b in zip(lrs[3:], lrs[4:], strict=False))
    assert whole.fraction == 1.0 and whole.lr_at(whole.step + 1) == 0.0

    # Interrupted after 8 steps (mid-epoch 2), then resumed: the same rates step by step.
    first: list[float] = []
    cut = _trainer(tmp_path, "cut", first)
    original = cut.progress

    def interrupt_at_8(event: dict) -> None:
        original(event)
        if event["event"] == "step" and len(first) == 8:
            os.kill(os.getpid(), signal.SIGINT)

    cut.progress = interrupt_at_8
    with pytest.raises(TrainingInterrupted):
        cut.fit()
    rest: list[float] = []
    resumed = _trainer(tmp_path, "cut", rest)
    resumed.fit(resume=True)
    assert first + rest == pytest.approx(lrs)
    assert resumed.fraction == 1.0 and resumed.lr_at(resumed.step + 1) == 0.0


class SteppingClock:
    """A ``time`` stand-in whose clock advances a fixed amount per reading: the budget runs out after a
    known number of steps whatever the machine's load (a real clock gave one step on a busy machine)."""

    def __init__(self, seconds_per_reading: float) -> None:
        self.now, self.step = 0.0, seconds_per_reading

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


def test_time_budget_ends_at_zero(tmp_path, monkeypatch):
    import seqtool.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "time", SteppingClock(0.01))  # a 0.6 s budget: dozens of steps
    lrs: list[float] = []
    trainer = _trainer(tmp_path, "timed", lrs, epochs=100000, max_minutes=0.01, schedule="cosine")
    result = trainer.fit()
    assert result.stopped_because == "time budget"
    assert trainer.fraction == 1.0 and trainer.lr_at(trainer.step + 1) == 0.0
    assert len(lrs) > 5 and max(lrs) <= 1e-2 and lrs[-1] < max(lrs)


def test_adamw_decays_weights_decoupled(tmp_path):
    trainer = _trainer(tmp_path, "w", [], optimizer="adamw", weight_decay=0.5, epochs=1)
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.5


def test_ema_weights_are_evaluated_and_saved(tmp_path):
    trainer = _trainer(tmp_path, "ema", [], ema=0.9, epochs=2, schedule="constant")
    trainer.fit()
    raw = trainer.model.state_dict()
    averaged = trainer.ema.module.state_dict()
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)  # the EMA is not the raw weights
    saved = build_lm(lm_config(vocab_size=V, cell="gru", layers=1, emb_dim=16, hidden=16, dropout=0.0))
    load_weights(saved, trainer.md.weights_path)
    for k, v in saved.state_dict().items():
        assert torch.equal(v, averaged[k]), k  # what was saved is the EMA
    # The recorded best metric is the EMA's (evaluating the saved weights gives it back).
    assert trainer.evaluate(saved)["dev_loss"] == pytest.approx(trainer.best["value"], rel=1e-5)
    # The EMA is checkpointed: a resumed trainer restores it.
    again = _trainer(tmp_path, "ema", [], ema=0.9, epochs=2, schedule="constant")
    again.load_checkpoint()
    for k, v in again.ema.module.state_dict().items():
        assert torch.equal(v, averaged[k]), k
