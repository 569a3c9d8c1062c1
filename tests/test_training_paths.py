"""The Trainer on the paths users run by default, not only `average_last=0`: checkpoint averaging (the
Transformer translator's default), the warm-up/inverse-sqrt and plateau schedules, the --max-minutes
cut-off with its fractional epoch label, early stopping by patience, and bf16 autocast.

Most tests drive the Trainer directly with a tiny GRU language model on a synthetic counting task
(each token is the previous one plus one), so a run takes a fraction of a second; where the test is
about a decision (keep the average or not, stop or go on), a scripted evaluation makes the dev metric
whatever the test needs, and everything else is the real loop."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import seqtool.training.trainer as trainer_module
from seqtool.data.batch import Batch
from seqtool.data.specials import BOS, EOS
from seqtool.metrics import bleu_only
from seqtool.models.lm import build_lm, lm_config
from seqtool.store.workspace import ModelDir
from seqtool.tasks.mt import load_translator, read_dev
from seqtool.training.config import Objective, TrainConfig
from seqtool.training.trainer import Trainer
from tests.conftest import train_tiny_mt

VOCAB, LENGTH, SEQUENCES, PER_BATCH = 24, 8, 40, 4
DATA = torch.tensor([[4 + (s + k) % (VOCAB - 4) for k in range(LENGTH)] for s in range(SEQUENCES)])


def make_batch(idx: np.ndarray) -> Batch:
    rows = DATA[torch.as_tensor(idx)]
    tgt_in = torch.cat([torch.full((len(rows), 1), BOS), rows], dim=1)
    tgt_out = torch.cat([rows, torch.full((len(rows), 1), EOS)], dim=1)
    return Batch(tgt_in, tgt_out)


def epoch_batches(epoch: int) -> list[np.ndarray]:
    order = np.random.default_rng(epoch).permutation(SEQUENCES)
    return [order[i : i + PER_BATCH] for i in range(0, SEQUENCES, PER_BATCH)]  # 10 batches an epoch


def dev_loss(model) -> dict[str, float]:
    batch = make_batch(np.arange(SEQUENCES))
    logits = model.logits(model.features(batch))
    return {"dev_loss": float(torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), batch.tgt_out.flatten()))}


def scripted(values: list[float], seen: list[dict[str, torch.Tensor]] | None = None):
    """An evaluation that reports ``values`` in turn (and records the weights it was shown)."""
    queue = list(values)

    def evaluate(model) -> dict[str, float]:
        if seen is not None:
            seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return {"dev_loss": queue.pop(0)}

    return evaluate


def make_trainer(tmp_path, evaluate=dev_loss, progress=lambda _: None, **settings) -> Trainer:
    torch.manual_seed(0)
    model = build_lm(lm_config(vocab_size=VOCAB, cell="gru", layers=1, emb_dim=16, hidden=32, dropout=0.0))
    md = ModelDir(tmp_path / "m")
    md.path.mkdir(parents=True)
    cfg = TrainConfig(**{"lr": 1e-2, "schedule": "constant", "precision": "fp32", "patience": 100, **settings})
    return Trainer(model, cfg, md, epoch_batches=epoch_batches, make_batch=make_batch, evaluate=evaluate,
                   objective=Objective("dev_loss", False), device=torch.device("cpu"), progress=progress)  # fmt: skip


def test_inverse_sqrt_schedule_values_and_the_rate_each_step_used(tmp_path):
    steps: list[dict] = []
    trainer = make_trainer(tmp_path, schedule="inverse_sqrt", lr=2e-3, warmup=8, epochs=2,
                           progress=lambda e: steps.append(e) if e["event"] == "step" else None)  # fmt: skip
    # Linear warm-up to the peak at step `warmup`, then lr * sqrt(warmup / step).
    assert trainer.lr_at(1) == pytest.approx(2e-3 / 8)
    assert trainer.lr_at(4) == pytest.approx(1e-3)
    assert trainer.lr_at(8) == pytest.approx(2e-3)
    assert trainer.lr_at(32) == pytest.approx(1e-3)
    assert trainer.lr_at(0) == trainer.lr_at(1)
    trainer.fit()
    assert [e["lr"] for e in steps] == pytest.approx([trainer.lr_at(s) for s in range(1, 21)])


def test_plateau_schedule_divides_the_rate_after_an_epoch_without_improvement(tmp_path):
    trainer = make_trainer(tmp_path, schedule="plateau", lr=1e-2, plateau_factor=0.5, epochs=5,
                           evaluate=scripted([5.0, 6.0, 4.0, 4.5, 4.6]))  # fmt: skip
    assert trainer.lr_at(1) == pytest.approx(1e-2) == trainer.lr_at(1000)
    result = trainer.fit()
    # The rate each epoch trained with: worse after epoch 2 -> halved for epoch 3; after 4 -> again.
    assert [row["lr"] for row in result.history] == pytest.approx([1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3])
    assert trainer.lr_at(1) == pytest.approx(1e-2 * 0.5**3)  # epoch 5 was worse as well


def test_early_stopping_by_patience_keeps_the_best_epochs_weights(tmp_path):
    seen: list[dict[str, torch.Tensor]] = []
    trainer = make_trainer(tmp_path, epochs=20, patience=3, evaluate=scripted([3.0, 2.0, 2.5, 2.4, 2.1, 1.0], seen))
    result = trainer.fit()
    assert result.stopped_because == "no improvement for 3 epochs"
    assert result.epochs == 5 and [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5]
    assert result.best["epoch"] == 2 and result.best["value"] == 2.0
    saved = load_file(str(trainer.md.weights_path))
    assert all(torch.equal(saved[k], seen[1][k]) for k in saved)  # epoch 2's weights, not the last ones


def test_time_budget_stops_mid_epoch_with_a_fractional_label(tmp_path, monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=lambda: clock.now))

    def slow_batch(idx: np.ndarray) -> Batch:
        clock.now += 7.0  # every batch "takes" 7 s: the 2-minute budget runs out in epoch 2
        return make_batch(idx)

    trainer = make_trainer(tmp_path, epochs=10, max_minutes=2.0)
    trainer.make_batch = slow_batch
    result = trainer.fit()
    assert result.stopped_because == "time budget"
    assert [row["epoch"] for row in result.history] == [1, 1.8]  # 70 s, then 8 of 10 batches: 126 s
    assert result.epochs == 1 and result.steps == 18
    assert result.history[-1]["elapsed_s"] == pytest.approx(126.0)
    assert result.best["epoch"] in (1, 1.8)


def test_checkpoint_averaging_is_kept_only_when_better(tmp_path):
    # Kept: the average of the last 3 epochs' weights scores better than any epoch.
    seen: list[dict[str, torch.Tensor]] = []
    trainer = make_trainer(tmp_path / "kept", epochs=4, average_last=3, evaluate=scripted([4, 3, 2, 1.5, 1.0], seen))
    result = trainer.fit()
    assert result.best == {"metric": "dev_loss", "value": 1.0, "epoch": 4, "averaged": 3}
    expected = {k: sum(w[k].float() for w in seen[1:4]) / 3 for k in seen[0]}
    assert torch.allclose(seen[4]["rnn.weight_hh_l0"], expected["rnn.weight_hh_l0"])  # what was evaluated
    saved = load_file(str(trainer.md.weights_path))
    assert all(torch.allclose(saved[k], expected[k].to(saved[k].dtype), atol=1e-6) for k in saved)
    assert "averaged last 3 epochs: dev_loss=1.0000 (kept)" in trainer.md.log_path.read_text()
    # Not kept: the average is worse; the best epoch's weights stay, and the log says why.
    seen = []
    trainer = make_trainer(tmp_path / "not", epochs=4, average_last=3, evaluate=scripted([4, 3, 2, 1.5, 1.7], seen))
    result = trainer.fit()
    assert result.best["epoch"] == 4 and "averaged" not in result.best
    saved = load_file(str(trainer.md.weights_path))
    assert all(torch.equal(saved[k], seen[3][k]) for k in saved)
    assert "(not kept: best 1.5000 at epoch 4)" in trainer.md.log_path.read_text()


def test_transformer_translator_default_averaging_on_real_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Transformer recipe averages the last 5 epochs' weights at the end (mt_train_config's default). The
    score the log gives the average is that of the mean of the last 5 epochs' weights (re-scored here), and
    the decision follows it: kept when it beats every epoch (config.json's best says "averaged": 5 and the
    saved weights are that mean), else the saved weights are the best epoch's and not the mean."""
    epoch_weights: list[dict[str, torch.Tensor]] = []  # the evaluated weights after each epoch
    end_of_epoch = Trainer.end_of_epoch

    def recorded(self: Trainer, *args: float) -> bool:
        improved = end_of_epoch(self, *args)
        epoch_weights.append({k: v.detach().clone() for k, v in self.eval_model.state_dict().items()})
        return improved

    monkeypatch.setattr(Trainer, "end_of_epoch", recorded)
    ws, result = train_tiny_mt(tmp_path, "transformer", epochs=6, train={"average_last": None},
                               dim=64, heads=2, ff_dim=128, encoder_layers=1, decoder_layers=1, dropout=0.0)  # fmt: skip
    md = ws.model_dir("mt-transformer")
    config = md.config()
    assert config["train_config"]["average_last"] == 5 and len(epoch_weights) == 6
    scores = [row["dev_bleu"] for row in result.history]
    assert len(set(scores[-5:])) == 5 and max(scores) > 1, scores  # a learning model: the decision is a real one
    mean = {k: sum(w[k].float() for w in epoch_weights[-5:]) / 5 for k in epoch_weights[0]}
    (line,) = [x for x in md.log_path.read_text().splitlines() if "averaged last 5 epochs" in x]
    averaged = float(re.search(r"dev_bleu=([0-9.]+)", line).group(1))

    tr = load_translator(ws, "mt-transformer", "cpu")
    saved = {k: v.clone() for k, v in tr.model.state_dict().items()}
    d = config["data"]
    sources, refs = read_dev(Path(d["dev_src"]), Path(d["dev_tgt"]))

    def score(weights: dict[str, torch.Tensor]) -> float:
        tr.model.load_state_dict(weights)
        return bleu_only([t[0].text for t in tr.translate(sources, tokenized=True, beam=1)], refs)

    assert score(mean) == pytest.approx(averaged, abs=1e-4)  # the log scores the mean of the last 5 epochs
    epochs_best = max(scores)
    kept = averaged > epochs_best
    assert ("(kept)" in line) == kept and ("(not kept" in line) == (not kept)
    assert config["best"] == result.best and ("averaged" in result.best) == kept
    same_as_mean = all(torch.allclose(saved[k].float(), mean[k], rtol=0, atol=1e-6) for k in mean)
    if kept:
        assert result.best["value"] == averaged and result.best["averaged"] == 5 and same_as_mean
    else:
        best_epoch = epoch_weights[result.best["epoch"] - 1]
        assert result.best["value"] == pytest.approx(epochs_best, abs=1e-4) and not same_as_mean
        assert all(torch.equal(saved[k], best_epoch[k]) for k in best_epoch)
    # The saved weights are the ones the best record describes: re-scoring them gives its value.
    assert score(saved) == pytest.approx(result.best["value"], abs=1e-6)


def test_bf16_training_learns_on_cpu(tmp_path):
    dtypes: set[torch.dtype] = set()
    trainer = make_trainer(tmp_path / "bf16", precision="bf16", epochs=8, lr=2e-2)
    # The vocabulary layer runs inside the chunked loss (training/output_loss.py); the projection before it
    # is an ordinary nn.Linear call, which autocast runs in bf16.
    handle = trainer.model.output.proj.register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
    result = trainer.fit()
    handle.remove()
    assert torch.bfloat16 in dtypes  # autocast really ran in bf16
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.4 * losses[0], losses
    # and it learns about as well as full precision on the same run
    fp32 = make_trainer(tmp_path / "fp32", precision="fp32", epochs=8, lr=2e-2).fit()
    assert result.history[-1]["dev_loss"] < 1.25 * fp32.history[-1]["dev_loss"]


def test_auto_precision_is_fp32_where_torch_may_not_use_avx512() -> None:
    """An AVX-512 BF16 machine told to act as an AVX2 one (ATEN_CPU_CAPABILITY=avx2, the issue's way to
    measure for laptops) emulates bf16, as the laptop would: --precision auto then trains in fp32."""
    import os
    import subprocess
    import sys

    code = ("import torch; from seqtool.training.device import resolve_precision; "
            "print(resolve_precision(torch.device('cpu'), 'auto'))")  # fmt: skip
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fp32"
