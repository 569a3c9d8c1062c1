"""train-lm's default recipes, observed on real (tiny) training runs through the CLI and the Trainer.

Recurrent causal LMs train on parallel streams read in --bptt windows, with plain SGD, clipped
gradients and a rate decayed linearly to zero over the budget; a plain RNN starts at a lower rate
than an LSTM (at the LSTM's rate its loss jumps); every other LM trains on sentence batches with Adam;
options given by the user win over either recipe. Each run records, per optimizer step, the optimizer,
its rate, the rate measured on the weights, the clipped gradient norm and the batch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from seqtool.data.batch import Batch
from seqtool.data.specials import BOS, EOS
from seqtool.store.workspace import Workspace
from seqtool.tasks.lm import LMTask
from seqtool.training.schedule import effective_warmup
from seqtool.training.trainer import Trainer
from tests.conftest import SAMPLE, run_main

TINY_RNN = ("--layers", "1", "--emb-dim", "16", "--hidden", "16", "--dropout", "0")


@dataclass
class Step:
    """What one optimizer step of a training run did."""

    optimizer: type[torch.optim.Optimizer]
    lr: float  # the optimizer's rate at this step
    sgd_rate: float  # the rate the weights moved by, assuming plain SGD: -(update . grad) / |grad|^2
    largest_move: float  # max |update| (Adam's first step moves each weight by at most its rate)
    grad_norm: float  # after clipping
    loss: float
    batch: Batch


@dataclass
class Run:
    steps: list[Step]
    train_config: dict[str, Any]  # config.json "train_config"
    history: list[dict[str, Any]]  # metrics.jsonl


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """600 training sentences (about 4,000 tokens) and 20 dev sentences of the sample data."""
    folder = tmp_path_factory.mktemp("lm-data")
    train, dev = folder / "train.txt", folder / "dev.txt"
    train.write_text("\n".join((SAMPLE / "enja" / "train.en").read_text(encoding="utf-8").splitlines()[:600]) + "\n")
    dev.write_text("\n".join((SAMPLE / "enja" / "dev.en").read_text(encoding="utf-8").splitlines()[:20]) + "\n")
    return train, dev


def train(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], ws: Path, *options: str
) -> Run:
    """`seqtool train-lm OPTIONS` (one epoch unless OPTIONS say otherwise), every optimizer step recorded."""
    steps: list[Step] = []
    original = Trainer.train_step

    def recorded(self: Trainer, batch: Batch) -> tuple[float, int]:
        params = [p for p in self.model.parameters() if p.requires_grad]
        before = torch.cat([p.detach().flatten() for p in params]).double()
        loss_sum, n = original(self, batch)
        update = torch.cat([p.detach().flatten() for p in params]).double() - before
        grad = torch.cat([torch.zeros(p.numel()) if p.grad is None else p.grad.flatten() for p in params]).double()
        steps.append(
            Step(type(self.optimizer), self.optimizer.param_groups[0]["lr"], float(-(update @ grad) / (grad @ grad)),
                 float(update.abs().max()), float(grad.norm()), loss_sum / n, batch)
        )  # fmt: skip
        return loss_sum, n

    monkeypatch.setattr(Trainer, "train_step", recorded)
    train_path, dev_path = data
    code, _, err = run_main(
        capsys, "train-lm", "--train", str(train_path), "--dev", str(dev_path), "--name", "m", "--epochs", "1",
        "--device", "cpu", "--precision", "fp32", "--threads", "1", "--json", "-w", str(ws), *options,
    )  # fmt: skip
    assert code == 0, err
    md, config = Workspace(ws).find("m", "lm")
    return Run(steps, config["train_config"], md.metrics())


def rates(run: Run) -> list[float]:
    return [s.lr for s in run.steps]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_lm_trains_on_streams_with_clipped_sgd_decayed_linearly_to_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], tmp_path: Path, cell: str
) -> None:
    """By default an LSTM/GRU LM reads the corpus as parallel streams in windows of --bptt tokens, the state
    carried from window to window within an epoch; plain SGD with clipped gradients moves the weights by a
    rate that falls linearly over the whole budget (two epochs here) towards zero."""
    run = train(monkeypatch, capsys, data, tmp_path, "--cell", cell, *TINY_RNN, "--epochs", "2")
    tc = run.train_config
    assert tc["batching"] == "stream" and tc["optimizer"] == "sgd"
    assert {s.optimizer for s in run.steps} == {torch.optim.SGD}
    # Streams: every row is a stream, read bptt tokens at a time, each window where the previous one ended.
    starts = [i for i, s in enumerate(run.steps) if not s.batch.carry]
    assert len(starts) == 2 and starts[0] == 0  # the state starts afresh once per epoch, else is carried
    per_epoch = starts[1]
    assert per_epoch >= 4 and len(run.steps) == 2 * per_epoch
    for epoch in (run.steps[:per_epoch], run.steps[per_epoch:]):
        shapes = [tuple(s.batch.tgt_in.shape) for s in epoch]
        assert all(s.batch.stream for s in epoch)
        assert shapes[:-1] == [(tc["batch_tokens"] // tc["bptt"], tc["bptt"])] * (per_epoch - 1), shapes
        assert shapes[-1][1] <= tc["bptt"]
        for a, b in zip(epoch, epoch[1:], strict=False):
            last_target = a.batch.tgt_out[:, -1]
            assert torch.equal(b.batch.tgt_in[:, 0], torch.where(last_target == EOS, BOS, last_target))
    # Clipping: no step's gradient is longer than clip_norm, and the longer ones were cut to exactly it.
    norms = [s.grad_norm for s in run.steps]
    assert max(norms) == pytest.approx(tc["clip_norm"], rel=1e-4)
    # The rate the weights really moved by: the peak at step 1, then linear decay to 0 at the end of the budget.
    total = len(run.steps)
    applied = [s.sgd_rate for s in run.steps]
    assert applied[0] == pytest.approx(tc["lr"], rel=1e-3)
    assert applied == pytest.approx([tc["lr"] * (1 - k / total) for k in range(total)], rel=1e-3)
    assert applied[-1] < applied[0] / (total - 1)  # it reached near zero, not a per-epoch restart
    assert all(math.isfinite(s.loss) for s in run.steps)
    assert run.history[-1]["dev_ppl"] < run.history[0]["dev_ppl"]  # and the model learned


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_plain_rnn_starts_at_a_lower_rate_than_an_lstm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], tmp_path: Path,
    activation: str,
) -> None:  # fmt: skip
    """The plain RNN gets the same stream SGD recipe as the LSTM, but its weights move by a lower rate."""
    lstm = train(monkeypatch, capsys, data, tmp_path / "lstm", "--cell", "lstm", *TINY_RNN)
    rnn = train(monkeypatch, capsys, data, tmp_path / "rnn", "--cell", "rnn", "--activation", activation, *TINY_RNN)
    assert {s.optimizer for s in rnn.steps} == {torch.optim.SGD} and all(s.batch.stream for s in rnn.steps)
    assert rnn.steps[0].sgd_rate == pytest.approx(rnn.train_config["lr"], rel=1e-3)
    assert rnn.steps[0].sgd_rate < lstm.steps[0].sgd_rate / 2
    assert rates(rnn)[-1] < rates(rnn)[0]  # decayed like the LSTM's


def test_the_plain_rnns_rate_keeps_its_loss_falling_where_the_lstms_makes_it_jump(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], tmp_path: Path
) -> None:
    """A tanh RNN at its default rate: the training loss falls step by step below where it started. The same
    RNN at the LSTM's rate (read off an LSTM run): the loss jumps more than a nat above its start."""
    wide = ("--layers", "1", "--emb-dim", "64", "--hidden", "64", "--dropout", "0")
    lstm_rate = train(monkeypatch, capsys, data, tmp_path / "lstm", "--cell", "lstm", *TINY_RNN).steps[0].sgd_rate
    own = [s.loss for s in train(monkeypatch, capsys, data, tmp_path / "own", "--cell", "rnn", *wide).steps]
    fast_run = train(monkeypatch, capsys, data, tmp_path / "fast", "--cell", "rnn", *wide, "--lr", str(lstm_rate))
    fast = [s.loss for s in fast_run.steps]
    assert fast_run.steps[0].sgd_rate == pytest.approx(lstm_rate, rel=1e-3)
    assert fast[0] == pytest.approx(own[0], rel=1e-5)  # the same model and first window
    assert max(own[1:]) < own[0] and own[-1] < own[0] - 0.5, own
    assert max(fast) > fast[0] + 1.0, fast


@pytest.mark.parametrize(
    "options",
    [
        ("--cell", "wavenet", "--layers", "2", "--emb-dim", "16", "--channels", "16", "--dropout", "0"),
        ("--cell", "vae", *TINY_RNN, "--latent", "4"),
        ("--cell", "lstm", "--context", "3", *TINY_RNN),
        ("--cell", "gru", "--optimizer", "adam", *TINY_RNN),
    ],
    ids=["wavenet", "vae", "window-lstm", "gru-adam"],
)
def test_other_lms_train_on_sentence_batches_with_adam_at_a_rate_cut_on_plateaus(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], tmp_path: Path,
    options: tuple[str, ...],
) -> None:  # fmt: skip
    """WaveNet, VAE, window models and a recurrent LM asked for Adam: Adam on padded batches of whole
    sentences (no state carried) of at most --batch-size tokens; the rate holds while the dev perplexity
    improves and is cut once it does not (the dev perplexity is made to rise after the first epoch)."""
    evaluate, evaluations = LMTask.evaluate, []

    def worse_every_epoch(self: LMTask, model: Any, device: torch.device) -> dict[str, float]:
        evaluations.append(evaluate(self, model, device))
        return {**evaluations[-1], "dev_ppl": 100.0 + len(evaluations)}

    monkeypatch.setattr(LMTask, "evaluate", worse_every_epoch)
    run = train(monkeypatch, capsys, data, tmp_path, *options, "--epochs", "3")
    tc = run.train_config
    assert tc["batching"] == "sentences" and tc["optimizer"] == "adam"
    assert {s.optimizer for s in run.steps} == {torch.optim.Adam}
    for s in run.steps:
        b = s.batch
        assert not b.stream and not b.carry and b.tgt_in.numel() <= tc["batch_tokens"]
        assert (b.tgt_in[:, 0] == BOS).all() and ((b.tgt_out == EOS).sum(dim=1) == 1).all()  # one sentence a row
    # Adam's first step moves every weight by at most the rate, and the weights with a clear gradient by it.
    assert run.steps[0].largest_move == pytest.approx(run.steps[0].lr, rel=1e-3)
    # Epochs 1 (the first score, so the best) and 2 at the peak; epoch 2 scored worse, so epoch 3 goes lower.
    ends = [row["step"] for row in run.history]
    assert len(ends) == 3 and ends[0] >= 3 and ends[-1] == len(run.steps)
    assert set(rates(run)[: ends[1]]) == {tc["lr"]}
    cut = rates(run)[ends[1] :]
    assert cut == pytest.approx([tc["lr"] * tc["plateau_factor"]] * len(cut))
    assert tc["plateau_factor"] < 1 and len(evaluations) == 3


def test_the_transformer_lm_warms_up_then_decays_linearly_to_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], tmp_path: Path
) -> None:
    """A Transformer LM trains with Adam on sentence batches; its rate starts near 0 (warm-up over the
    recorded warm-up steps: the recipe's, capped at a quarter of the run's planned updates) and is
    multiplied by a factor falling linearly to 0 at the end of the budget. Without warm-up (--warmup 0)
    it starts at the peak and falls linearly."""
    tiny = ("--cell", "transformer", "--layers", "1", "--emb-dim", "16", "--heads", "2", "--ff-dim", "32",
            "--dropout", "0")  # fmt: skip
    run = train(monkeypatch, capsys, data, tmp_path / "default", *tiny, "--epochs", "4")
    tc = run.train_config
    assert {s.optimizer for s in run.steps} == {torch.optim.Adam} and not any(s.batch.stream for s in run.steps)
    total = len(run.steps)
    plan = Workspace(tmp_path / "default").find("m", "lm")[1]["schedule_plan"]
    assert total >= 4 and tc["warmup"] > total  # the recipe's warm-up is longer than this 4-epoch run
    assert plan == {"warmup": effective_warmup(tc["warmup"], total), "configured_warmup": tc["warmup"],
                    "planned_updates": total, "planned_by": "epochs"}  # fmt: skip
    warmup = plan["warmup"]
    assert 3 <= warmup < total  # the run leaves its warm-up
    assert rates(run)[0] == pytest.approx(tc["lr"] / warmup)  # warming up from a fraction of the peak
    assert rates(run)[1] > rates(run)[0]
    expected = [tc["lr"] * min(1, k / warmup) * (1 - (k - 1) / total) for k in range(1, total + 1)]
    assert rates(run) == pytest.approx(expected, rel=1e-6)
    assert run.steps[0].largest_move == pytest.approx(rates(run)[0], rel=1e-2)  # the rate Adam really applied

    flat = train(monkeypatch, capsys, data, tmp_path / "no-warmup", *tiny, "--epochs", "4", "--warmup", "0")
    assert flat.train_config["warmup"] == 0
    assert rates(flat) == pytest.approx([tc["lr"] * (1 - k / total) for k in range(total)], rel=1e-6)


def test_options_given_by_the_user_win_over_the_recipe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, data: tuple[Path, Path], tmp_path: Path
) -> None:
    """An LSTM with --lr, --bptt, --batch-size, --schedule and --clip-norm given: config.json records them and
    the run does them (windows of 12 tokens in 10 streams, SGD moving the weights at 5 then on a cosine curve,
    gradients clipped at 0.1); what the user did not give (the optimizer, stream batching) is the recipe's."""
    given = {"lr": 5.0, "bptt": 12, "batch_tokens": 120, "schedule": "cosine", "clip_norm": 0.1}
    run = train(
        monkeypatch, capsys, data, tmp_path, "--cell", "lstm", *TINY_RNN, "--lr", "5", "--bptt", "12",
        "--batch-size", "120", "--schedule", "cosine", "--clip-norm", "0.1",
    )  # fmt: skip
    assert {k: run.train_config[k] for k in given} == given
    assert {s.optimizer for s in run.steps} == {torch.optim.SGD}
    shapes = {tuple(s.batch.tgt_in.shape) for s in run.steps[:-1]}
    assert shapes == {(10, 12)} and all(s.batch.stream for s in run.steps)
    total = len(run.steps)
    cosine = [5.0 * 0.5 * (1 + math.cos(math.pi * k / total)) for k in range(total)]
    assert [s.sgd_rate for s in run.steps] == pytest.approx(cosine, rel=1e-3)
    assert max(s.grad_norm for s in run.steps) == pytest.approx(0.1, rel=1e-4)  # longer gradients cut to 0.1
