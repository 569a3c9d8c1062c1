"""Training settings and results: :class:`TrainConfig` (every key of a model's "train_config"),
the :class:`Objective` a task optimises, and the :class:`TrainResult` summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seqtool.errors import OptionError
from seqtool.training.schedule import SCHEDULES

# The translation recipe's min_epoch_batches: an epoch holds at least this many batches, so on a corpus of
# fewer than MIN_EPOCH_BATCHES x --batch-size padded tokens, batches are cut smaller (unless --batch-size
# is given: then it is what the user asked for). What limits a small run is its number of updates, not its
# passes over the data: 8 epochs of the 1,274 sample pairs (27k tokens) in 4,096-token batches are 64
# updates, and a small Transformer then reaches dev BLEU 0.8; in 845-token batches (33 an epoch, ~40
# pairs each) 264 updates reach 89-95 (docs/benchmarks.md, issue 30). small_parallel_enja (~1M tokens)
# is far above 32 x 4,096 tokens: unchanged.
MIN_EPOCH_BATCHES = 32


@dataclass
class TrainConfig:
    """Every key of the "train_config" section of a model's config.json (the "train" section is the
    :class:`TrainResult` summary)."""

    epochs: int = 20  # upper bound on passes over the training data
    max_minutes: float | None = None  # wall-clock budget, evaluation included
    batch_tokens: int = 4096  # tokens per batch, padding included
    optimizer: str = "adam"  # adam | adamw (decoupled weight decay) | sgd (plain, e.g. lr 20 with clip_norm 0.25)
    lr: float = 1e-3  # peak learning rate
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0  # adam/sgd: L2 added to the gradient; adamw: decoupled (weights shrink by lr * wd)
    # inverse_sqrt: warm-up, then lr * sqrt(warmup/step) | plateau | constant | linear, cosine: warm-up, then
    # decay to exactly 0 when the nearer budget (max_minutes, epochs) runs out (seqtool.training.schedule)
    schedule: str = "inverse_sqrt"
    warmup: int = 200  # steps of linear warm-up (inverse_sqrt, linear, cosine); at most 1/4 of the planned updates
    plateau_factor: float = 0.25  # plateau: multiply lr by this when the dev metric does not improve
    label_smoothing: float = 0.0
    clip_norm: float = 1.0  # 0 disables gradient clipping
    patience: int = 5  # early stopping: epochs without improvement of the dev metric
    seed: int = 1
    precision: str = "auto"  # auto | fp32 | bf16 (autocast for matrix products); auto: bf16 where it is fast
    checkpoint_minutes: float = 5.0  # also save a resumable checkpoint this often within an epoch
    average_last: int = 0  # MT: average the weights of the last N epochs at the end, keep it if better
    ema: float = 0.0  # > 0: decay of an EMA of the weights (e.g. 0.999); the EMA is evaluated and saved
    # Language models: "sentences" (padded sentence batches, a fresh state per sentence) | "stream" (the
    # corpus as parallel streams read in windows of bptt tokens, the recurrent state carried across
    # windows; batch_tokens // bptt streams) | "auto" (stream for recurrent causal LMs, else sentences).
    batching: str = "sentences"
    bptt: int = 35  # stream batching: tokens per window (truncated back-propagation through time)
    bptt_jitter: bool = False  # stream batching: window lengths drawn around bptt (AWD-LSTM's N(bptt, 5))
    min_epoch_batches: int = 0  # > 0: batches cut smaller on a corpus too small for this many an epoch (0: off)

    def epoch_batch_tokens(self, corpus_tokens: int) -> int:
        """The batch size (padded tokens) used on a corpus of ``corpus_tokens`` padded tokens:
        ``batch_tokens``, cut so that an epoch holds at least ``min_epoch_batches`` batches (0: not cut)."""
        if self.min_epoch_batches <= 0:
            return self.batch_tokens
        return max(1, min(self.batch_tokens, corpus_tokens // self.min_epoch_batches))

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
        if self.optimizer not in ("adam", "adamw", "sgd"):
            raise OptionError(f"--optimizer must be adam, adamw or sgd, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise OptionError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.warmup < 0 or (self.warmup == 0 and self.schedule == "inverse_sqrt"):
            raise OptionError(f"--warmup must be >= 0 (> 0 for inverse_sqrt), got {self.warmup}")
        if not 0 <= self.ema < 1:
            raise OptionError(f"--ema must be in [0, 1) (0: off), got {self.ema}")
        if self.weight_decay < 0:
            raise OptionError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if self.batching not in ("auto", "stream", "sentences"):
            raise OptionError(f"--batching must be auto, stream or sentences, got {self.batching!r}")
        if self.bptt < 2:
            raise OptionError(f"--bptt must be >= 2, got {self.bptt}")
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
