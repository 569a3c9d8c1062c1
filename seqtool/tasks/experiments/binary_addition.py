"""Binary addition with a small recurrent network: the course's classic first RNN experiment.

Two numbers are fed bit by bit, least-significant bit first (two input bits per time step); the
network emits one bit of the sum per step. To get it right it must carry: remember whether the
previous column overflowed. That one bit of memory is exactly what a recurrent state is for, so
the task shows in seconds whether a cell can learn to use its state - and how the hidden
activation (sigmoid, tanh, ReLU) and the initialisation change that.

The setting follows the classic numpy demo: 16 hidden units, 8-bit sums (operands below 2^7, so
the sum never overflows), a sigmoid output per bit with binary cross-entropy, plain SGD. Accuracy
is measured on held-out additions, pairs of operands never seen in training: exact (every bit of
the sum right) and per bit.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqtool.errors import OptionError, TrainingInterrupted
from seqtool.models.elman import ACTIVATIONS, ElmanConfig, ElmanRNN
from seqtool.store.workspace import ModelDir
from seqtool.tasks.experiments.settings import BinaryAdditionConfig
from seqtool.training.config import Objective, TrainConfig
from seqtool.training.trainer import Trainer


@dataclass
class Checkpoint:
    """The learning curve at one step: training loss since the previous checkpoint, held-out accuracy."""

    step: int
    loss: float  # mean BCE per bit over the training batches since the previous checkpoint (nan if diverged)
    accuracy: float  # fraction of held-out sums with every bit right
    bit_accuracy: float  # fraction of held-out sum bits right
    # Largest gradient norm (all parameters together) over the steps since the previous checkpoint:
    # exploding gradients show as spikes here, vanishing ones as a norm that stays tiny (nan at step 0).
    max_grad_norm: float = float("nan")


@dataclass
class BinaryAdditionResult:
    config: BinaryAdditionConfig
    parameters: int
    heldout_size: int
    elapsed_s: float
    history: list[Checkpoint] = field(default_factory=list)
    # Hidden units that output exactly 0 at every step of every held-out addition after training:
    # "dead" ReLUs, which get no gradient and never recover. Always 0 for sigmoid and tanh.
    dead_units: int = 0

    @property
    def final(self) -> Checkpoint:
        return self.history[-1]

    @property
    def solved_step(self) -> int | None:
        """The step from which held-out accuracy stays at 100% to the end of the run, or None.

        Not simply the first 100% checkpoint: an unstable run (ReLU, a large learning rate) can touch
        100% and lose it again, and that should not count as learned.
        """
        solved = None
        for point in self.history:
            if point.accuracy < 1.0:
                solved = None
            elif solved is None:
                solved = point.step
        return solved

    @property
    def diverged(self) -> bool:
        """True when the training loss became inf/nan (exploding activations or gradients)."""
        return any(not math.isfinite(c.loss) for c in self.history)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite numbers become None (JSON has no NaN)."""

        def clean(value: float) -> float | None:
            return round(value, 6) if math.isfinite(value) else None

        return {
            "config": asdict(self.config),
            "parameters": self.parameters,
            "heldout_size": self.heldout_size,
            "elapsed_s": round(self.elapsed_s, 3),
            "solved_step": self.solved_step,
            "diverged": self.diverged,
            "dead_units": self.dead_units,
            "final": {"accuracy": self.final.accuracy, "bit_accuracy": self.final.bit_accuracy},
            "history": [
                {
                    "step": c.step,
                    "loss": clean(c.loss),
                    "accuracy": c.accuracy,
                    "bit_accuracy": c.bit_accuracy,
                    "max_grad_norm": clean(c.max_grad_norm),
                }
                for c in self.history
            ],
        }


class BinaryAdder(nn.Module):
    """Elman recurrence over (a_t, b_t) bit pairs, then one logit per step for the sum bit."""

    def __init__(self, hidden: int, activation: str, init: str) -> None:
        super().__init__()
        self.rnn = ElmanRNN(ElmanConfig(input_size=2, hidden_size=hidden, activation=activation, init=init))
        self.out = nn.Linear(hidden, 1)

    def forward(self, bits_in: torch.Tensor) -> torch.Tensor:
        """``bits_in``: (batch, time, 2) floats -> logits (batch, time)."""
        states, _ = self.rnn(bits_in)
        return self.out(states).squeeze(-1)


def to_bits(numbers: torch.Tensor, bits: int) -> torch.Tensor:
    """Integers (N,) -> float bits (N, bits), least-significant bit first."""
    shifts = torch.arange(bits, dtype=torch.int64)
    return ((numbers.unsqueeze(-1) >> shifts) & 1).to(torch.float32)


def make_examples(pairs: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Operand-pair indices (N,) -> inputs (N, bits, 2) and target sum bits (N, bits)."""
    operand_range = 1 << (bits - 1)
    a, b = pairs // operand_range, pairs % operand_range
    inputs = torch.stack([to_bits(a, bits), to_bits(b, bits)], dim=-1)
    return inputs, to_bits(a + b, bits)


def heldout_pairs(bits: int, wanted: int, generator: torch.Generator) -> torch.Tensor:
    """Distinct operand-pair indices kept out of training: ``wanted`` of them, at most a fifth of all pairs."""
    total = 1 << (2 * (bits - 1))
    size = max(1, min(wanted, total // 5))
    if total <= 1 << 22:
        return torch.randperm(total, generator=generator)[:size]
    # Too many pairs to permute: sample, drop the (rare) duplicates, top up until there are enough.
    chosen = torch.empty(0, dtype=torch.int64)
    while chosen.numel() < size:
        extra = torch.randint(0, total, (size,), generator=generator, dtype=torch.int64)
        chosen = torch.unique(torch.cat([chosen, extra]))
    return chosen[torch.randperm(chosen.numel(), generator=generator)[:size]]


def training_batches(
    bits: int, batch: int, steps: int, heldout: torch.Tensor, generator: torch.Generator, chunk_steps: int = 256
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` batches of random additions, none of them held out.

    Pairs are drawn ``chunk_steps`` batches at a time: one vectorised draw (and one held-out check)
    per chunk instead of per step, which otherwise costs as much as the network's own forward pass.
    """
    total = 1 << (2 * (bits - 1))
    remaining = steps
    while remaining > 0:
        count = min(chunk_steps, remaining) * batch
        pairs = torch.randint(0, total, (count,), generator=generator, dtype=torch.int64)
        clash = torch.isin(pairs, heldout)
        while clash.any():  # redraw held-out pairs until none is left
            pairs[clash] = torch.randint(0, total, (int(clash.sum()),), generator=generator, dtype=torch.int64)
            clash = torch.isin(pairs, heldout)
        inputs, targets = make_examples(pairs, bits)
        yield from zip(inputs.split(batch), targets.split(batch), strict=True)
        remaining -= count // batch


@torch.no_grad()
def evaluate(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """(exact accuracy, bit accuracy) of the model's thresholded outputs. NaN logits count as wrong."""
    predicted = (model(inputs) > 0).to(targets.dtype)
    correct = predicted == targets
    return correct.all(dim=1).float().mean().item(), correct.float().mean().item()


@dataclass
class Additions:
    """One batch: inputs (batch, bits, 2) and target sum bits (batch, bits), as the Trainer moves batches."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def to(self, device: torch.device) -> Additions:
        return Additions(self.inputs.to(device), self.targets.to(device))


def bit_loss(model: BinaryAdder, batch: Additions) -> tuple[torch.Tensor, int]:
    """The criterion: binary cross-entropy summed over every bit of the batch, and the number of bits
    (the Trainer divides one by the other: the mean BCE per bit of the classic demo)."""
    loss = F.binary_cross_entropy_with_logits(model(batch.inputs), batch.targets, reduction="sum")
    return loss, batch.targets.numel()


def train_config(config: BinaryAdditionConfig) -> TrainConfig:
    """The experiment as a run of the one Trainer: plain SGD at a constant rate, one "epoch" per
    evaluation (``eval_every`` steps), never stopped early, and the gradient norm measured but not
    clipped (``clip_norm`` infinite), because exploding gradients are what the experiment shows."""
    return TrainConfig(
        epochs=math.ceil(config.steps / config.eval_every), optimizer="sgd", lr=config.lr, schedule="constant",
        warmup=0, clip_norm=math.inf, patience=config.steps + 1, seed=config.seed, precision="fp32",
    )  # fmt: skip


def run_binary_addition(
    config: BinaryAdditionConfig, on_checkpoint: Callable[[Checkpoint], None] | None = None
) -> BinaryAdditionResult:
    """Train one network on binary addition and return its learning curve on held-out additions.

    ``on_checkpoint`` is called after every evaluation (for progress display). The run is
    deterministic for a given config (seeded generator, CPU). Training is seqtool's one
    :class:`~seqtool.training.trainer.Trainer`, writing its checkpoints to a temporary folder: the
    experiment keeps no model, only the curve.
    """
    config.validate()
    torch.manual_seed(config.seed)  # model initialisation
    generator = torch.Generator().manual_seed(config.seed)  # data: held-out split and batches
    model = BinaryAdder(config.hidden, config.activation, config.init)
    heldout = heldout_pairs(config.bits, config.heldout, generator)
    eval_inputs, eval_targets = make_examples(heldout, config.bits)
    result = BinaryAdditionResult(
        config=config, parameters=sum(p.numel() for p in model.parameters()), heldout_size=heldout.numel(),
        elapsed_s=0.0,
    )  # fmt: skip

    def record(point: Checkpoint) -> None:
        result.history.append(point)
        if on_checkpoint is not None:
            on_checkpoint(point)

    # Step 0 is the untrained network; its loss is the loss of the held-out batch.
    with torch.no_grad():
        untrained_loss = bit_loss(model, Additions(eval_inputs, eval_targets))[0].item() / eval_targets.numel()
    record(Checkpoint(0, untrained_loss, *evaluate(model, eval_inputs, eval_targets)))

    # The batches come from one generator, drawn in order: "epoch" e is steps e*eval_every+1 onwards.
    # (Not resumable by epoch number, which an in-memory experiment never needs.)
    stream = training_batches(config.bits, config.batch, config.steps, heldout, generator)

    def epoch_batches(epoch: int) -> list[Additions]:
        steps = min(config.eval_every, config.steps - epoch * config.eval_every)
        return [Additions(inputs, targets) for inputs, targets in itertools.islice(stream, steps)]

    accuracy: list[tuple[float, float]] = []
    losses: list[float] = []
    grad_norms: list[float] = []

    def evaluate_heldout(trained: torch.nn.Module) -> dict[str, float]:
        accuracy.append(evaluate(trained, eval_inputs, eval_targets))
        return {"accuracy": accuracy[-1][0], "bit_accuracy": accuracy[-1][1]}

    def progress(event: dict[str, Any]) -> None:
        if event["event"] == "step":
            losses.append(event["loss"])
            grad_norms.append(event["grad_norm"])
        elif event["event"] == "epoch":
            loss = sum(losses) / len(losses)
            record(Checkpoint(event["step"], loss, *accuracy[-1], max(grad_norms, default=float("nan"))))
            losses.clear()
            grad_norms.clear()

    with tempfile.TemporaryDirectory(prefix="seqtool-binary-addition-") as folder:
        trainer = Trainer(
            model, train_config(config), ModelDir(Path(folder)), epoch_batches=epoch_batches,
            make_batch=lambda batch: batch, evaluate=evaluate_heldout,
            objective=Objective("accuracy", higher_is_better=True), device=torch.device("cpu"), progress=progress,
            criterion=bit_loss,
        )  # fmt: skip
        try:
            trained = trainer.fit()
        except TrainingInterrupted:
            raise TrainingInterrupted("interrupted: binary addition keeps no checkpoint; run it again") from None
    result.elapsed_s = trained.elapsed_s
    with torch.no_grad():
        states, _ = model.rnn(eval_inputs)
        result.dead_units = int((states.abs().amax(dim=(0, 1)) == 0).sum())
    return result


def parse_activations(text: str) -> list[str]:
    """``"sigmoid,relu,tanh"`` (the --compare option) -> a checked list of activation names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise OptionError("--compare needs at least one activation, e.g. sigmoid,relu,tanh")
    for name in names:
        if name not in ACTIVATIONS:
            raise OptionError(f"--compare: unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")
    if len(set(names)) != len(names):
        raise OptionError(f"--compare lists an activation twice: {text}")
    return names


def run_comparison(
    activations: list[str],
    base: BinaryAdditionConfig,
    on_checkpoint: Callable[[str, Checkpoint], None] | None = None,
) -> list[BinaryAdditionResult]:
    """The same run (same seed, data and budget) once per activation."""
    if len(set(activations)) != len(activations):
        raise OptionError(f"an activation is listed twice: {','.join(activations)}")
    configs = [replace(base, activation=name) for name in activations]
    for cfg in configs:  # all options checked before the first run starts
        cfg.validate()
    results = []
    for cfg in configs:
        callback = None if on_checkpoint is None else (lambda c, name=cfg.activation: on_checkpoint(name, c))
        results.append(run_binary_addition(cfg, callback))
    return results
