"""Small runs learn (issue 30): the warm-up is capped at a share of the updates a run plans (epochs x
batches, or what the measured steps/s fit in a time budget), so a run far shorter than the configured
warm-up still reaches the peak rate, while a long one keeps the configured warm-up; a resumed run
keeps the plan it started with; a tie of the dev metric (BLEU 0.00 before a model translates) is
broken by the dev loss, which the translation task reports.

The Trainer is driven directly with a tiny GRU language model (a fraction of a second a run), as in
tests/test_training_paths.py; the applied rate is read from the optimizer after each step."""

from __future__ import annotations

import json
import os
import signal
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import seqtool.training.trainer as trainer_module
from seqtool.data.batch import Batch
from seqtool.data.specials import BOS, EOS
from seqtool.errors import TrainingInterrupted
from seqtool.models.lm import build_lm, lm_config
from seqtool.store.workspace import ModelDir
from seqtool.training.config import Objective, TrainConfig
from seqtool.training.schedule import effective_warmup
from seqtool.training.trainer import Trainer
from tests.test_training_paths import VOCAB, dev_loss, epoch_batches, make_batch  # the same toy data

PEAK = 2e-3


class Run:
    """A Trainer over a folder, with the rate the optimizer applied at each step (``rates``) and the
    epoch events (``epochs``); ``stop_after``: Ctrl-C after that many steps of this process."""

    def __init__(self, folder, evaluate=dev_loss, objective=Objective("dev_loss", False), stop_after: int = 0,
                 **settings) -> None:  # fmt: skip
        self.rates: list[float] = []
        self.epochs: list[dict] = []
        torch.manual_seed(0)
        model = build_lm(lm_config(vocab_size=VOCAB, cell="gru", layers=1, emb_dim=16, hidden=32, dropout=0.0))
        self.md = ModelDir(folder)
        self.md.path.mkdir(parents=True, exist_ok=True)
        cfg = TrainConfig(**{"lr": PEAK, "schedule": "inverse_sqrt", "warmup": 400, "precision": "fp32",
                             "patience": 100, **settings})  # fmt: skip
        self.stop_after = stop_after
        self.trainer = Trainer(model, cfg, self.md, epoch_batches=epoch_batches, make_batch=make_batch,
                               evaluate=evaluate, objective=objective, device=torch.device("cpu"),
                               progress=self.progress)  # fmt: skip

    def progress(self, event: dict) -> None:
        if event["event"] == "step":
            self.rates.append(self.trainer.optimizer.param_groups[0]["lr"])  # what the step applied
            if len(self.rates) == self.stop_after:
                os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C: the trainer saves a checkpoint and stops
        elif event["event"] == "epoch":
            self.epochs.append(event)

    def fit(self, resume: bool = False):
        if self.stop_after:
            with pytest.raises(TrainingInterrupted):
                self.trainer.fit(resume=resume)
            return None
        return self.trainer.fit(resume=resume)


def inverse_sqrt(step: int, warmup: int) -> float:
    return PEAK * min(step / warmup, (warmup / step) ** 0.5)


def test_a_run_far_shorter_than_the_warmup_reaches_the_peak_rate(tmp_path):
    """30 planned updates (3 epochs x 10 batches) against a configured warm-up of 400: the run warms up
    over a quarter of its updates, reaches the peak, then decays (inverse sqrt of the same warm-up)."""
    run = Run(tmp_path / "m", epochs=3)
    run.md.write_config({"name": "m", "kind": "lm"})  # as the task driver's run has: the plan is recorded in it
    run.fit()
    assert len(run.rates) == 30
    assert run.trainer.plan.warmup == 8  # round(30 / 4)
    assert run.rates == pytest.approx([inverse_sqrt(k, 8) for k in range(1, 31)])
    assert max(run.rates) == pytest.approx(PEAK) and run.rates.index(max(run.rates)) == 7
    # With the configured 400 steps the run would have ended at 30/400 of the peak.
    assert run.md.config()["schedule_plan"] == {"warmup": 8, "configured_warmup": 400, "planned_updates": 30,
                                                "planned_by": "epochs"}  # fmt: skip
    assert "warm-up 8 steps (configured 400; 30 updates planned by epochs)" in run.md.log_path.read_text()


def test_the_budget_aware_schedules_also_leave_their_warmup(tmp_path):
    run = Run(tmp_path / "m", epochs=3, schedule="linear", warmup=200)
    run.fit()
    # warm-up 8 of 30 updates, then linear decay to 0: step k applies peak * min(1, k/8) * (1 - (k-1)/30)
    assert run.rates == pytest.approx([PEAK * min(1, k / 8) * (1 - (k - 1) / 30) for k in range(1, 31)])
    assert max(run.rates) > 0.7 * PEAK


def test_a_long_planned_run_keeps_the_configured_warmup(tmp_path):
    """2,000 planned updates (200 epochs x 10): the configured 400 steps are kept, as they are for the
    Transformer recipe's ~3,300 updates in 60 reference minutes. The run is stopped after 12 steps."""
    run = Run(tmp_path / "m", epochs=200, stop_after=12)
    run.fit()
    assert run.trainer.plan.warmup == 400 and run.trainer.plan.planned_updates == 2000
    assert run.rates == pytest.approx([PEAK * k / 400 for k in range(1, 13)])
    assert effective_warmup(400, 3300) == 400 and effective_warmup(400, 1600) == 400  # the 2x margin
    assert effective_warmup(400, 64) == 16 and effective_warmup(0, 64) == 0  # no warm-up stays none


def test_a_resumed_run_keeps_the_warmup_it_planned(tmp_path):
    """Interrupted in its warm-up and resumed with a larger --epochs (which would plan 60 updates and a
    15-step warm-up): the checkpointed plan is kept, and the rates are the uninterrupted run's."""
    whole = Run(tmp_path / "whole", epochs=3)
    whole.fit()
    cut = Run(tmp_path / "cut", epochs=3, stop_after=5)
    cut.fit()
    resumed = Run(tmp_path / "cut", epochs=6)
    resumed.fit(resume=True)
    assert resumed.trainer.plan.warmup == 8 and resumed.trainer.plan.planned_updates == 30
    assert (cut.rates + resumed.rates)[:30] == pytest.approx(whole.rates)


def timed(monkeypatch, seconds_per_step: float) -> SimpleNamespace:
    """A clock that advances only when a batch is built: each step takes exactly ``seconds_per_step``."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=lambda: clock.now))

    def slow_batch(idx: np.ndarray) -> Batch:
        clock.now += seconds_per_step
        return make_batch(idx)

    clock.make_batch = slow_batch  # the run's make_batch
    return clock


def test_a_time_budget_plans_by_the_measured_speed_and_resumes_with_it(tmp_path, monkeypatch):
    """--max-minutes 0.5 with steps of 0.5 s and --epochs 100000: after 13 steps (3 skipped, 10 measured)
    the run plans 13 + 2/s x 23.5 s = 60 updates, and warms up over 15 of them (the epochs alone
    planned a million: warm-up 400). A resumed run whose steps take twice as long keeps that plan."""
    clock = timed(monkeypatch, 0.5)
    run = Run(tmp_path / "m", epochs=100000, max_minutes=0.5)
    run.trainer.make_batch = clock.make_batch
    result = run.fit()
    assert result.stopped_because == "time budget" and len(run.rates) == 60
    assert run.trainer.plan.warmup == 15 and run.trainer.plan.planned_updates == 60
    assert run.rates[:13] == pytest.approx([PEAK * k / 400 for k in range(1, 14)])  # before the estimate
    assert run.rates[13:] == pytest.approx([inverse_sqrt(k, 15) for k in range(14, 61)])
    assert max(run.rates) == pytest.approx(PEAK)
    log = run.md.log_path.read_text()
    assert "warm-up 400 steps (configured 400; 1000000 updates planned by epochs; the time budget" in log
    assert "warm-up 15 steps (configured 400; 60 updates planned by time)" in log

    clock = timed(monkeypatch, 0.5)
    cut = Run(tmp_path / "cut", epochs=100000, max_minutes=0.5, stop_after=16)
    cut.trainer.make_batch = clock.make_batch
    cut.fit()
    clock = timed(monkeypatch, 1.0)  # slower now: a new estimate would plan fewer updates
    resumed = Run(tmp_path / "cut", epochs=100000, max_minutes=0.5)
    resumed.trainer.make_batch = clock.make_batch
    resumed.fit(resume=True)
    assert resumed.trainer.plan.warmup == 15
    assert cut.rates == pytest.approx(run.rates[:16])
    assert resumed.rates[:5] == pytest.approx([inverse_sqrt(k, 15) for k in range(17, 22)])


def scripted(rows: list[dict[str, float]], seen: list[dict[str, torch.Tensor]]):
    """An evaluation that reports ``rows`` in turn and records the weights it was shown."""
    queue = list(rows)

    def evaluate(model) -> dict[str, float]:
        seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return queue.pop(0)

    return evaluate


BLEU = Objective("dev_bleu", True)


def test_a_bleu_tie_is_broken_by_the_dev_loss(tmp_path):
    """BLEU 0.00 four epochs running: the best is the epoch with the lowest dev loss (its weights are
    saved), not the first; a higher BLEU then wins whatever its loss."""
    seen: list[dict[str, torch.Tensor]] = []
    rows = [{"dev_bleu": 0.0, "dev_loss": v} for v in (5.0, 4.0, 4.5, 3.0)] + [{"dev_bleu": 0.5, "dev_loss": 3.5}]
    run = Run(tmp_path / "tie", evaluate=scripted(rows[:4], seen), objective=BLEU, epochs=4, average_last=0)
    result = run.fit()
    assert [e["improved"] for e in run.epochs] == [True, True, False, True]
    assert result.best["epoch"] == 4 and result.best["dev_loss"] == 3.0 and result.best["value"] == 0.0
    saved = load_file(str(run.md.weights_path))
    assert all(torch.equal(saved[k], seen[3][k]) for k in saved)  # epoch 4's weights, not epoch 1's

    run = Run(tmp_path / "then", evaluate=scripted(rows, []), objective=BLEU, epochs=5, average_last=0)
    result = run.fit()
    assert [e["improved"] for e in run.epochs] == [True, True, False, True, True]
    assert result.best["epoch"] == 5 and result.best["value"] == 0.5

    # A task that reports no dev loss: a tie is no improvement, as before.
    bare = [{"dev_bleu": 0.0}] * 3
    run = Run(tmp_path / "bare", evaluate=scripted(bare, []), objective=BLEU, epochs=3, average_last=0)
    assert run.fit().best["epoch"] == 1 and [e["improved"] for e in run.epochs] == [True, False, False]


def test_translation_reports_the_teacher_forced_dev_loss(tmp_path, sample):
    """MTTask's dev loss is the per-token cross-entropy of the dev references (no label smoothing),
    whatever the batching: recomputed here one pair at a time from the saved (epoch 1) weights."""
    from seqtool.tasks.mt import load_translator, read_dev
    from seqtool.training.criterion import scored_tokens
    from tests.conftest import train_tiny_mt

    ws, result = train_tiny_mt(tmp_path, "transformer", epochs=1, dim=32, heads=2, ff_dim=64, encoder_layers=1,
                               decoder_layers=1, train={"label_smoothing": 0.1})  # fmt: skip
    tr = load_translator(ws, None, "cpu")
    row = tr.md.metrics()[0]
    sources, refs = read_dev(sample / "enja" / "dev.en", sample / "enja" / "dev.ja")
    nll, tokens = 0.0, 0
    for s, t in zip(tr.src_tok.encode_batch(sources), tr.tgt_tok.encode_batch(refs), strict=True):
        ids = torch.tensor([t])
        batch = Batch(tgt_in=torch.cat([torch.tensor([[BOS]]), ids], 1), tgt_out=torch.cat([ids, torch.tensor([[EOS]])], 1),
                      src=torch.tensor([s]), src_lengths=torch.tensor([len(s)]))  # fmt: skip
        _, gold, batch_nll = scored_tokens(tr.model, batch)
        nll, tokens = nll + batch_nll, tokens + gold.numel()
    assert row["dev_loss"] == pytest.approx(nll / tokens, rel=1e-4)
    assert result.best["dev_loss"] == pytest.approx(row["dev_loss"], abs=1e-5)  # metrics rows: 5 decimals
    plan = json.loads(tr.md.config_path.read_text(encoding="utf-8"))["schedule_plan"]
    assert plan == {"warmup": effective_warmup(50, row["step"]), "configured_warmup": 50,
                    "planned_updates": row["step"], "planned_by": "epochs"}  # fmt: skip


def test_a_small_corpus_is_cut_into_at_least_32_batches_an_epoch():
    """TrainConfig.epoch_batch_tokens (for the task's batching): the sample pairs' 27,048 padded tokens
    give 8 batches of 4,096 tokens, too few updates for 8 epochs to learn; cut to 845-token batches
    they give 32 or more. A corpus of a million tokens keeps --batch-size."""
    from seqtool.data.batching import token_batches

    lengths = np.random.default_rng(0).integers(8, 33, size=1274)
    lengths = np.round(lengths * 27048 / lengths.sum()).astype(np.int64)
    cfg = TrainConfig(batch_tokens=4096, min_epoch_batches=32)
    assert len(token_batches(lengths, cfg.batch_tokens, seed=1, epoch=0)) <= 8
    tokens = cfg.epoch_batch_tokens(int(lengths.sum()))
    assert tokens < cfg.batch_tokens and len(token_batches(lengths, tokens, seed=1, epoch=0)) >= 32
    assert cfg.epoch_batch_tokens(1_000_000) == 4096
    assert TrainConfig(batch_tokens=700, min_epoch_batches=32).epoch_batch_tokens(27048) == 700


def test_the_translation_recipe_cuts_batches_unless_the_user_gave_a_batch_size() -> None:
    from seqtool.tasks.mt import mt_train_config

    assert mt_train_config("transformer").epoch_batch_tokens(27048) < 4096  # the recipe's default is cut
    assert mt_train_config("transformer", batch_tokens=4096).epoch_batch_tokens(27048) == 4096  # --batch-size 4096
    assert TrainConfig(batch_tokens=4096).epoch_batch_tokens(27048) == 4096  # other tasks: off
