"""Training settings and results: :class:`TrainConfig` (every key of a model's "train_config"),
the :class:`Objective` a task optimises, and the :class:`TrainResult` summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seqtool.errors import OptionError


@dataclass
class TrainConfig:
    """Every key of the "train" section of a model's config.json."""

    epochs: int = 20  # upper bound on passes over the training data
    max_minutes: float | None = None  # wall-clock budget, evaluation included
    batch_tokens: int = 4096  # tokens per batch, padding included
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3  # peak learning rate
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0
    schedule: str = "inverse_sqrt"  # inverse_sqrt (warmup, then lr * sqrt(warmup/step)) | plateau | constant
    warmup: int = 200  # steps of linear warm-up (inverse_sqrt)
    plateau_factor: float = 0.25  # plateau: multiply lr by this when the dev metric does not improve
    label_smoothing: float = 0.0
    clip_norm: float = 1.0  # 0 disables gradient clipping
    patience: int = 5  # early stopping: epochs without improvement of the dev metric
    seed: int = 1
    precision: str = "auto"  # auto | fp32 | bf16 (autocast for matrix products); auto: bf16 where it is fast
    checkpoint_minutes: float = 5.0  # also save a resumable checkpoint this often within an epoch
    average_last: int = 0  # MT: average the weights of the last N epochs at the end, keep it if better

    def with_stored(self, stored: dict[str, Any]) -> TrainConfig:
        """On --resume: the stored settings, with the budgets given on the command line (this config's)."""
        return TrainConfig(**{**stored, "epochs": self.epochs, "max_minutes": self.max_minutes})

    def validate(self) -> None:
        # batch_tokens is --batch-size on the command line: name the option the user typed.
        for name, option in (("epochs", "--epochs"), ("batch_tokens", "--batch-size"), ("lr", "--lr")):
            if getattr(self, name) <= 0:
                raise OptionError(f"{option} must be > 0, got {getattr(self, name)}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise OptionError(f"--max-minutes must be > 0, got {self.max_minutes}")
        if self.optimizer not in ("adam", "sgd"):
            raise OptionError(f"optimizer must be adam or sgd, got {self.optimizer!r}")
        if self.schedule not in ("inverse_sqrt", "plateau", "constant"):
            raise OptionError(f"schedule must be inverse_sqrt, plateau or constant, got {self.schedule!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise OptionError(f"--precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.patience < 1:
            raise OptionError(f"--patience must be >= 1, got {self.patience}")


@dataclass
class Objective:
    """What the task evaluates: a metric name from the evaluation dict and its direction."""

    metric: str  # e.g. "dev_ppl" or "dev_bleu"
    higher_is_better: bool


@dataclass
class TrainResult:
    epochs: int
    steps: int
    elapsed_s: float
    tokens_per_s: float
    best: dict[str, Any]
    stopped_because: str
    history: list[dict[str, Any]] = field(default_factory=list)


def describe(cfg: Any) -> dict[str, Any]:
    """A dataclass config as JSON-ready dict (tuples become lists)."""
    return json_ready(asdict(cfg))


def json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    return obj
