"""The binary-addition experiment: the Elman cell, the data, learning to 100%, the CLI and its figure."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from seqtool.errors import OptionError
from seqtool.models.elman import ElmanConfig, ElmanRNN
from seqtool.tasks.experiments.binary_addition import (
    BinaryAdditionConfig,
    heldout_pairs,
    make_examples,
    parse_activations,
    run_binary_addition,
    run_comparison,
    to_bits,
    training_batches,
)
from seqtool.viz.curves import figure_pixels, png_size
from tests.conftest import assert_clean_error, run_cli, run_main


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_elman_cell_computes_the_recurrence(activation: str) -> None:
    torch.manual_seed(0)
    rnn = ElmanRNN(ElmanConfig(input_size=3, hidden_size=4, activation=activation, init="normal"))
    x = torch.randn(2, 5, 3)
    states, last = rnn(x)
    assert states.shape == (2, 5, 4) and torch.equal(states[:, -1], last)
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    h = torch.zeros(2, 4)
    for t in range(5):  # h_t = act(W_x x_t + W_h h_{t-1} + b), written out by hand
        h = act(x[:, t] @ rnn.input_proj.weight.T + h @ rnn.recurrent.weight.T + rnn.input_proj.bias)
        torch.testing.assert_close(states[:, t], h)
    if activation == "sigmoid":
        assert (states > 0).all() and (states < 1).all()


def test_elman_config_rejects_unknown_choices() -> None:
    with pytest.raises(OptionError, match="`activation` must be one of"):
        ElmanRNN(ElmanConfig(2, 4, activation="softplus"))
    with pytest.raises(OptionError, match="`init` must be one of"):
        ElmanRNN(ElmanConfig(2, 4, init="orthogonal"))


def test_examples_are_least_significant_bit_first_and_add_up() -> None:
    assert to_bits(torch.tensor([6]), 4).tolist() == [[0.0, 1.0, 1.0, 0.0]]
    pairs = torch.arange(128 * 128)
    inputs, targets = make_examples(pairs, 8)
    weights = 2 ** torch.arange(8)
    a, b, total = (inputs[..., 0] * weights).sum(1), (inputs[..., 1] * weights).sum(1), (targets * weights).sum(1)
    assert torch.equal(a + b, total) and int(total.max()) == 254


@pytest.mark.parametrize("bits", [8, 32])
def test_training_never_sees_heldout_additions(bits: int) -> None:
    generator = torch.Generator().manual_seed(1)
    heldout = heldout_pairs(bits, 500, generator)
    assert heldout.unique().numel() == heldout.numel() == 500
    weights = 2 ** torch.arange(bits, dtype=torch.int64)
    operand_range = 1 << (bits - 1)
    for inputs, _ in training_batches(bits, 64, 20, heldout, generator, chunk_steps=7):
        a = (inputs[..., 0].long() * weights).sum(1)
        b = (inputs[..., 1].long() * weights).sum(1)
        assert not torch.isin(a * operand_range + b, heldout).any()


def test_tanh_learns_to_add_within_the_default_budget() -> None:
    result = run_binary_addition(BinaryAdditionConfig(activation="tanh"))  # defaults: the course's setting
    assert result.heldout_size == 1000
    assert result.final.accuracy == 1.0 and result.final.bit_accuracy == 1.0
    assert result.solved_step is not None and result.solved_step < result.config.steps
    assert result.history[0].accuracy < 0.1  # it really had to learn
    assert not result.diverged and result.dead_units == 0


def test_the_experiment_trains_through_the_one_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Binary addition has no loop of its own: the Trainer takes every step, with plain SGD at the
    experiment's constant rate, and the gradient is measured but never clipped (the curve of gradient
    norms is what shows an explosion)."""
    from seqtool.training import trainer as trainer_module

    norms: list[float] = []  # the gradient norm of each step, read off the Trainer itself
    original = trainer_module.Trainer.train_step

    def spy(self: trainer_module.Trainer, batch: object) -> tuple[float, int]:
        before = [p.detach().clone() for p in self.model.parameters()]
        out = original(self, batch)
        for old, new in zip(before, self.model.parameters(), strict=True):  # w <- w - 0.7 * g: nothing clipped
            torch.testing.assert_close(new.detach(), old - 0.7 * new.grad)
        norms.append(self.grad_norm)
        return out

    monkeypatch.setattr(trainer_module.Trainer, "train_step", spy)
    result = run_binary_addition(BinaryAdditionConfig(activation="tanh", lr=0.7, steps=30, eval_every=10))
    assert len(norms) == 30
    assert [c.step for c in result.history] == [0, 10, 20, 30]
    assert [c.max_grad_norm for c in result.history[1:]] == [max(norms[i : i + 10]) for i in (0, 10, 20)]


def test_a_diverging_run_stops_at_the_first_non_finite_checkpoint() -> None:
    """ReLU with He initialisation, seed 4, explodes within 50 steps (docs/experiments.md, across seeds): the
    Trainer stops at the evaluation whose training loss is not finite (weights that went inf/nan never
    recover) instead of spending the rest of the budget, and the run is reported as diverged."""
    result = run_binary_addition(BinaryAdditionConfig(activation="relu", init="he", seed=4, steps=400))
    assert result.diverged and not result.solved_step
    assert result.history[-1].step < 400
    losses = [c.loss for c in result.history]
    assert all(math.isfinite(x) for x in losses[:-1]) and not math.isfinite(losses[-1])


def test_runs_are_deterministic_and_comparison_validates_first() -> None:
    config = BinaryAdditionConfig(activation="relu", steps=40, eval_every=20)
    assert run_binary_addition(config).to_dict()["history"] == run_binary_addition(config).to_dict()["history"]
    with pytest.raises(OptionError, match="--activation must be one of"):
        run_comparison(["tanh", "gelu"], config)
    assert parse_activations(" sigmoid, relu ") == ["sigmoid", "relu"]
    with pytest.raises(OptionError, match="unknown activation 'gelu'"):
        parse_activations("tanh,gelu")
    with pytest.raises(OptionError, match="twice"):
        run_comparison(["tanh", "tanh"], config)


def test_the_cli_learns_to_add_and_runs_the_library_experiment_for_options_left_out(
    workspace: Path, capsys: pytest.CaptureFixture
) -> None:
    """`seqtool experiment binary-addition -a tanh --steps 400 --json` (every other option left out): the
    network learns to add (held-out accuracy from near 0 to 100%, reported as solved within the budget),
    the figure is written, and the run is exactly the library's run with the same two settings."""
    code, out, err = run_main(
        capsys, "experiment", "binary-addition", "-a", "tanh", "--steps", "400", "--json", "-w", str(workspace)
    )
    assert code == 0, err
    report = json.loads(out)
    (run,) = report["runs"]
    assert run["history"][0]["accuracy"] < 0.1 and run["final"] == {"accuracy": 1.0, "bit_accuracy": 1.0}
    assert run["solved_step"] is not None and run["solved_step"] < 400 and not run["diverged"]
    assert [p["step"] for p in run["history"]][-1] == 400
    assert Path(report["figure"]).parent == workspace / "figures" and png_size(Path(report["figure"]))
    library = run_binary_addition(BinaryAdditionConfig(activation="tanh", steps=400)).to_dict()
    assert run["history"] == library["history"] and run["config"] == library["config"]


def test_compare_draws_one_curve_per_activation(workspace: Path) -> None:
    r = run_cli(
        "experiment", "binary-addition", "--compare", "sigmoid,relu,tanh",
        "--steps", "60", "--eval-every", "20", "-w", str(workspace), "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [run["config"]["activation"] for run in out["runs"]] == ["sigmoid", "relu", "tanh"]
    assert all([p["step"] for p in run["history"]] == [0, 20, 40, 60] for run in out["runs"])
    grad_norms = [p["max_grad_norm"] for p in out["runs"][0]["history"]]
    assert grad_norms[0] is None and all(g > 0 for g in grad_norms[1:])  # no gradient before the first step
    figure = Path(out["figure"])
    assert figure.parent == workspace / "figures" and figure.name == "binary-addition-sigmoid-relu-tanh-seed0.png"
    assert figure.stat().st_size > 10_000 and png_size(figure) == figure_pixels(3) == (2160, 540)


def test_plot_has_one_curve_per_run_in_each_panel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import seqtool.viz.curves as curves

    drawn = []
    monkeypatch.setattr(curves, "_save", lambda fig, path: drawn.append(fig) or path)
    results = run_comparison(["sigmoid", "tanh"], BinaryAdditionConfig(steps=20, eval_every=10))
    curves.plot_binary_addition(results, tmp_path / "x.png")
    acc_ax, loss_ax, grad_ax = drawn[0].axes
    assert [t.get_text().split()[0] for t in acc_ax.get_legend().get_texts()] == ["sigmoid", "tanh"]
    assert len(acc_ax.get_lines()) == 4  # whole-sum and per-bit accuracy for each run
    for ax in (loss_ax, grad_ax):
        assert [line.get_label() for line in ax.get_lines()] == ["sigmoid", "tanh"]
    assert acc_ax.get_xlabel() and acc_ax.get_ylabel() and drawn[0].get_suptitle()


def test_single_run_prints_a_table_and_writes_the_figure(workspace: Path, tmp_path: Path) -> None:
    out_png = tmp_path / "curve.png"
    r = run_cli(
        "experiment", "binary-addition", "-a", "tanh", "--steps", "40", "--eval-every", "20",
        "-w", str(workspace), "-o", str(out_png),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "held-out accuracy" in r.stdout and f"figure: {out_png}" in r.stdout
    assert png_size(out_png) == figure_pixels(3)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--compare", "sigmoid,gelu"], "unknown activation 'gelu'"),
        (["--bits", "1"], "--bits must be between 2"),
    ],
)
def test_bad_options_are_one_line_errors_and_write_nothing(workspace: Path, args: list[str], needle: str) -> None:
    r = run_cli("experiment", "binary-addition", *args, "-w", str(workspace))
    assert_clean_error(r, needle)
    assert len(r.stderr.strip().splitlines()) == 1
    assert not workspace.exists()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"activation": "softplus"}, "--activation must be one of"),
        ({"init": "zeros"}, "--init must be one of"),
        ({"lr": 0.0}, "--lr must be > 0"),
        ({"lr": float("inf")}, "--lr must be a finite number"),
        ({"hidden": 0}, "--hidden must be > 0"),
        ({"bits": 33}, "--bits must be between 2"),
        ({"batch": 0}, "--batch must be > 0"),
    ],
)
def test_config_validation(change: dict, needle: str) -> None:
    with pytest.raises(OptionError, match=needle):
        run_binary_addition(BinaryAdditionConfig(**change))
