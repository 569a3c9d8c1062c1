"""The one training loop, for every model kind.

A task hands the :class:`Trainer` a model (any ``nn.Module``), a function that lists the batches of
an epoch, a function that builds a batch (anything with ``.to(device)``), an evaluation function returning
a metrics dict, and a criterion that gives the loss of a batch (:mod:`seqtool.training.criterion`; default:
the label-smoothed token NLL of a :class:`~seqtool.models.base.SequenceModel` plus its auxiliary terms).
Translation, language models, dialogue, the next-word comparison and binary addition all train here.
The trainer owns everything else: optimizer and schedule, bf16 autocast, gradient clipping, per-epoch evaluation, best-weights and resumable checkpoints,
early stopping, time budgets, Ctrl-C, checkpoint averaging and the metrics history.

Checkpoints (``checkpoint.pt``) hold only tensors and plain Python values, so they load with
``torch.load(weights_only=True)``; best weights go to ``model.safetensors``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from seqtool.data.batch import Batch
from seqtool.errors import TrainingInterrupted, WorkspaceError, one_line
from seqtool.files import atomic_path
from seqtool.models.base import SequenceModel
from seqtool.store.weights import safe_load_checkpoint, save_weights
from seqtool.store.workspace import ModelDir
from seqtool.training import schedule
from seqtool.training.averaging import mean_weights, weight_ema
from seqtool.training.config import Objective, TrainConfig, TrainResult
from seqtool.training.criterion import Criterion, TokenNLL, token_nll
from seqtool.training.device import autocast
from seqtool.training.distributed import all_ranks_sum, any_rank, broadcast_from_main
from seqtool.training.interrupt import deferred_interrupt
from seqtool.training.knobs import Knobs
from seqtool.training.memory import HeapTrimmer
from seqtool.training.output_loss import CHUNK_ROWS

ProgressFn = Callable[[dict[str, Any]], None]


def _noop(_: dict[str, Any]) -> None:
    return None


def masked_loss(
    model: SequenceModel, batch: Batch, label_smoothing: float = 0.0, chunk_rows: int = CHUNK_ROWS
) -> tuple[torch.Tensor, int]:
    """The default criterion's loss (:func:`seqtool.training.criterion.token_nll`), chunked by default."""
    return token_nll(model, batch, label_smoothing, chunk_rows)


def _resumable_state(model: torch.nn.Module) -> dict[str, Any]:
    get = getattr(model, "resumable_state", None)  # SequenceModel's hook; other modules have none
    return get() if get is not None else {}


class CriterionModule(torch.nn.Module):
    """The criterion as a module's forward: DistributedDataParallel synchronises gradients only
    for work done inside the forward of the module it wraps."""

    def __init__(self, model: torch.nn.Module, criterion: Criterion) -> None:
        super().__init__()
        self.model, self.criterion = model, criterion

    def forward(self, batch: Any) -> tuple[torch.Tensor, int]:
        return self.criterion(self.model, batch)


class Trainer:
    """See the module docstring. Only ``rank == 0`` writes files and reports progress."""

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: TrainConfig,
        model_dir: ModelDir,
        *,
        epoch_batches: Callable[[int], Sequence[Any]],  # the token-id rows (np.ndarray) of each batch, ...
        make_batch: Callable[[Any], Batch | Any],  # ... turned into a batch: anything with .to(device)
        evaluate: Callable[[Any], dict[str, float]],
        objective: Objective,
        device: torch.device,
        progress: ProgressFn = _noop,
        rank: int = 0,
        world_size: int = 1,
        shard_batches: bool = True,
        knobs: Knobs | None = None,
        criterion: Criterion | None = None,
    ) -> None:
        cfg.validate()
        self.knobs = Knobs.from_environment() if knobs is None else knobs  # hidden env knobs (knobs.py)
        self.model, self.cfg, self.md = model, cfg, model_dir
        self.epoch_batches, self.make_batch, self.evaluate = epoch_batches, make_batch, evaluate
        self.objective, self.device, self.progress = objective, device, progress
        self.rank, self.world_size = rank, world_size
        self.shard_batches = shard_batches  # False: every rank takes every batch (it reads its own rows)
        # What a step minimises (the task's criterion; default: label-smoothed token NLL + auxiliary terms).
        criterion = criterion or TokenNLL(cfg.label_smoothing, self.knobs.loss_chunk_rows)
        self.train_model: torch.nn.Module = CriterionModule(model, criterion)
        if self.knobs.compile:  # shapes vary from batch to batch: compile for dynamic shapes from the start
            self.train_model = torch.compile(self.train_model, dynamic=True)  # type: ignore[assignment]
        if world_size > 1:  # under torchrun (see seqtool.training.run)
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(self.train_model)
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adamw":  # decoupled weight decay (Loshchilov & Hutter 2019)
            self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.lr_scale = 1.0  # plateau schedule state
        self.step = 0
        self.epoch = 0  # completed epochs
        self.batch_in_epoch = 0  # batches of the current epoch already done (resume position)
        self.elapsed = 0.0
        self.tokens = 0
        self.epoch_loss, self.epoch_tokens = 0.0, 0  # sums over the current epoch (checkpointed mid-epoch)
        self.best: dict[str, Any] = {}
        self.bad_epochs = 0
        # The gradient norm of the last step, before clipping (None with clip_norm 0, which computes none).
        self.grad_norm: float | None = None
        self.recent_weights: list[dict[str, torch.Tensor]] = []
        # cfg.ema > 0: evaluation, best weights and averaging use this average of the weights.
        self.ema = weight_ema(model, cfg.ema) if cfg.ema > 0 else None
        self.fraction = 0.0  # of the budget used (time or epochs, the nearer): budget-aware schedules
        # The warm-up in use: cfg.warmup capped at a share of the planned updates (schedule.WarmupPlan).
        self.plan = schedule.WarmupPlan(cfg.warmup)
        # Gives back what the set-up freed, then bounds what heap fragmentation adds (seqtool.training.memory).
        self.heap = HeapTrimmer(self.knobs.trim_every)

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights that are evaluated and saved: the EMA when enabled, else the trained ones."""
        return self.ema.module if self.ema is not None else self.model

    # ----- learning-rate schedule
    def lr_at(self, step: int, fraction: float | None = None) -> float:
        """The rate of step ``step``; ``fraction``: of the budget used (default: where the run is)."""
        cfg, used = self.cfg, self.fraction if fraction is None else fraction
        return schedule.lr_at(cfg.schedule, cfg.lr, step, self.plan.warmup, used, self.lr_scale)

    def _plan(self, planned_updates: int, by: str, final: bool) -> None:
        """Set the planned updates and the warm-up they allow; record them (train.log, config.json)."""
        self.plan.plan(planned_updates, final)
        if self.rank != 0:
            return
        warmup = self.plan.warmup
        note = f"warm-up {warmup} steps (configured {self.cfg.warmup}; {planned_updates} updates planned by {by}"
        note += ")" if final else "; the time budget may shorten it once the steps/s are measured)"
        self.md.log(note)
        if self.md.config_path.exists():  # the task driver's run has one (a bare Trainer need not)
            self.md.update_config(schedule_plan={"warmup": warmup, "configured_warmup": self.cfg.warmup,
                                                 "planned_updates": planned_updates, "planned_by": by})  # fmt: skip
        if warmup != self.cfg.warmup:
            self.progress({"event": "status", "message": note})

    def _measure_speed(self, step_seconds: float, budget: float) -> None:
        """A time budget: after a few steps, plan the updates that the measured steps/s fits in it."""
        by_time = self.plan.measure(step_seconds, self.step, budget - self.elapsed)
        if by_time is not None:
            # Under torchrun every rank must use rank 0's plan (the same rates keep the weights identical).
            planned = broadcast_from_main(min(self.plan.planned_updates or by_time, by_time), self.world_size)
            self._plan(planned, "time" if planned < self.plan.planned_updates else "epochs", final=True)

    def _update_fraction(self, batch: int, batches: int) -> None:
        """From the position and ``self.elapsed``: the same clock reading as the budget check."""
        position = self.epoch + batch / max(1, batches)
        self.fraction = schedule.budget_fraction(self.elapsed, self.cfg.max_minutes, position, self.cfg.epochs)

    # ----- checkpoints
    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "elapsed": self.elapsed,
            "tokens": self.tokens,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "lr_scale": self.lr_scale,
            **self.plan.state(),
            "epoch_loss": self.epoch_loss,
            "epoch_tokens": self.epoch_tokens,
            "recent_weights": self.recent_weights,  # average_last: the epochs averaged at the end
            "torch_rng": torch.get_rng_state(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        # A model's training-time state beyond its weights (stream batching: the state the next window starts from).
        state.update(_resumable_state(self.model))
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        with atomic_path(self.md.checkpoint_path) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self) -> None:
        path = self.md.checkpoint_path
        if not path.exists():
            raise WorkspaceError(f"{path}: no checkpoint to resume from; train without --resume")
        state = safe_load_checkpoint(path, self.device)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise WorkspaceError(f"{path}: does not match the model in config.json ({one_line(e)})") from None
        for key in ("step", "epoch", "batch_in_epoch", "elapsed", "tokens", "best", "bad_epochs", "lr_scale"):
            setattr(self, key, state[key])
        # Keys added later: checkpoints written before them still resume.
        self.epoch_loss, self.epoch_tokens = state.get("epoch_loss", 0.0), state.get("epoch_tokens", 0)
        self.recent_weights = state.get("recent_weights", [])
        self.plan.load(state)
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        # Under torchrun each rank carries its own rows, and only rank 0's are saved: the others restart theirs.
        restore = getattr(self.model, "load_resumable_state", None)
        if restore is not None:
            restore(state if self.world_size == 1 else {})
        torch.set_rng_state(state["torch_rng"].cpu())
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])

    # ----- the loop
    def fit(self, resume: bool = False) -> TrainResult:
        # A run killed before its first checkpoint has nothing to resume: it starts afresh (the
        # caller seeded the initial weights, so this is the run it would have been).
        if resume and self.md.checkpoint_path.exists():
            self.load_checkpoint()
        else:
            torch.manual_seed(self.cfg.seed + self.rank)  # under torchrun: independent dropout per rank
        if resume and self.rank == 0:
            # Rows written after the checkpoint (a kill between metrics and checkpoint) are redone.
            self.md.truncate_metrics(self.epoch)
        start = time.perf_counter() - self.elapsed
        budget = self.cfg.max_minutes * 60 if self.cfg.max_minutes else math.inf
        last_checkpoint = time.perf_counter()
        every_steps = self.knobs.checkpoint_steps  # for tests that kill a run mid-epoch, and long epochs
        with deferred_interrupt() as stop_requested:
            try:
                stopped = self._loop(start, budget, last_checkpoint, every_steps, stop_requested)
            except KeyboardInterrupt:
                # A second Ctrl-C (or one outside the main thread): the state in memory may be
                # half-updated, so the last checkpoint on disk is what a --resume continues from.
                raise TrainingInterrupted(
                    f"interrupted: continue from the last checkpoint with the same command and "
                    f"--resume --name {self.md.name}"
                ) from None
        if self.cfg.average_last > 1 and len(self.recent_weights) > 1:
            self.try_average()
        return TrainResult(
            epochs=self.epoch, steps=self.step, elapsed_s=self.elapsed,
            tokens_per_s=self.tokens / max(1e-9, self.elapsed), best=self.best, stopped_because=stopped,
            history=self.md.metrics() if self.rank == 0 else [],
        )  # fmt: skip

    def _interrupted(self, start: float) -> TrainingInterrupted:
        """Save at a consistent point (between steps or after an epoch) and say how to go on."""
        self.elapsed = time.perf_counter() - start
        self.save_checkpoint()
        return TrainingInterrupted(
            f"interrupted: checkpoint saved (epoch {self.epoch + 1}, batch {self.batch_in_epoch}); "
            f"continue with the same command and --resume --name {self.md.name}"
        )

    def _loop(
        self, start: float, budget: float, last_checkpoint: float, every_steps: int, stop_requested: Callable[[], bool]
    ) -> str:
        """The epochs; returns why training stopped."""
        stopped = "epochs"
        while self.epoch < self.cfg.epochs:
            batches = self.epoch_batches(self.epoch)  # a pure function of (seed, epoch): resumable
            if self.world_size > 1 and self.shard_batches:  # every rank takes the same number of batches
                usable = len(batches) - len(batches) % self.world_size
                batches = batches[self.rank : usable : self.world_size]
            self.model.train()
            ws = self.world_size
            if self.batch_in_epoch == 0:
                self.epoch_loss, self.epoch_tokens = 0.0, 0
            t_epoch, tokens_before = time.perf_counter(), self.epoch_tokens
            if not self.plan.fixed and not self.plan.planned_updates:  # the first epoch of a new run
                self._plan(self.cfg.epochs * len(batches), "epochs", final=not self.cfg.max_minutes)
            clock = t_epoch - start  # elapsed at the last reading: a step's time is the difference
            self._update_fraction(self.batch_in_epoch, len(batches))
            for b in range(self.batch_in_epoch, len(batches)):
                loss_sum, n = self.train_step(self.make_batch(batches[b]))
                self.heap.after_step(self.step)
                self.epoch_loss, self.epoch_tokens = self.epoch_loss + loss_sum, self.epoch_tokens + n
                self.batch_in_epoch = b + 1
                self.elapsed = time.perf_counter() - start
                if not self.plan.fixed:
                    self._measure_speed(self.elapsed - clock, budget)
                clock = self.elapsed
                self._update_fraction(b + 1, len(batches))  # the budget used: the next step's rate
                rate = (self.epoch_tokens - tokens_before) / max(1e-9, time.perf_counter() - t_epoch)
                self.progress(
                    {
                        "event": "step",
                        "epoch": self.epoch + 1,
                        "epochs": self.cfg.epochs,
                        "batch": b + 1,
                        "batches": len(batches),
                        "loss": loss_sum / max(1, n),
                        "tokens_per_s": rate * self.world_size,
                        "elapsed": self.elapsed,
                        "budget": budget,
                        "lr": self.optimizer.param_groups[0]["lr"],
                        "grad_norm": self.grad_norm,
                    }
                )
                # Under torchrun, every rank must take the same decision (or the others wait forever).
                out_of_time, stop = any_rank(self.elapsed >= budget, ws), any_rank(stop_requested(), ws)
                if out_of_time:
                    break
                if stop:
                    raise self._interrupted(start)
                due = time.perf_counter() - last_checkpoint > self.cfg.checkpoint_minutes * 60
                if due or (every_steps and self.step % every_steps == 0):
                    self.save_checkpoint()
                    last_checkpoint = time.perf_counter()
            finished_epoch = self.batch_in_epoch >= len(batches)
            if finished_epoch:
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            train_loss = self.epoch_loss / max(1, self.epoch_tokens)
            rate = (self.epoch_tokens - tokens_before) / max(1e-9, time.perf_counter() - t_epoch)
            # A budget can stop mid-epoch: such an evaluation is labelled with the fraction done.
            label = self.epoch if finished_epoch else round(self.epoch + self.batch_in_epoch / len(batches), 3)
            improved = self.end_of_epoch(train_loss, rate, label)
            self.heap.trim()  # the dev decoding's many tensor sizes
            self.elapsed = time.perf_counter() - start
            self._update_fraction(self.batch_in_epoch, len(batches))  # evaluation time counts too
            self.save_checkpoint()
            last_checkpoint = time.perf_counter()
            if any_rank(stop_requested(), ws):
                raise self._interrupted(start)
            if any_rank(self.elapsed >= budget, ws):
                stopped = "time budget"
                break
            if not math.isfinite(train_loss):  # inf/nan weights never recover; the best ones are saved
                stopped = "diverged: the training loss is not finite"
                break
            if not improved and self.bad_epochs >= self.cfg.patience:
                stopped = f"no improvement for {self.cfg.patience} epochs"
                break
        return stopped

    def train_step(self, batch: Batch) -> tuple[float, int]:
        batch = batch.to(self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step + 1)
        with autocast(self.device, self.cfg.precision):
            loss_sum, n = self.train_model(batch)  # the criterion, DDP-wrapped under torchrun
        n_all = all_ranks_sum(n, self.world_size)  # tokens of the global batch (n with one process)
        self.optimizer.zero_grad(set_to_none=True)
        # DDP averages gradients over ranks: scaling by world_size / n_all turns that average into the
        # gradient of the mean loss over every token of the global batch, exactly what one process
        # holding all of it would compute (per-rank means would weight short batches too much).
        (loss_sum * (self.world_size / max(1, n_all))).backward()
        if self.cfg.clip_norm > 0:  # (math.inf: measure the norm, never clip)
            self.grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_norm))
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        self.tokens += n_all
        return loss_sum.item(), n

    def end_of_epoch(self, train_loss: float, tokens_per_s: float, epoch_label: float) -> bool:
        """Evaluate, log, keep the best weights; returns whether the dev metric improved."""
        metrics = self._shared_evaluation()
        value = metrics[self.objective.metric]
        better = self._is_better(metrics)
        if better:
            self.best = {"metric": self.objective.metric, "value": value, "epoch": epoch_label, "step": self.step,
                         **self._tie_breaker(metrics)}  # fmt: skip
            self.bad_epochs = 0
            if self.rank == 0:
                save_weights(self.eval_model, self.md.weights_path)
        else:
            self.bad_epochs += 1
            if self.cfg.schedule == "plateau":
                self.lr_scale *= self.cfg.plateau_factor
        if self.cfg.average_last > 1:
            self.recent_weights.append({k: v.detach().clone() for k, v in self.eval_model.state_dict().items()})
            self.recent_weights = self.recent_weights[-self.cfg.average_last :]
        row = {
            "epoch": epoch_label, "step": self.step, "train_loss": round(train_loss, 5),
            **{k: round(v, 5) for k, v in metrics.items()}, "tokens_per_s": round(tokens_per_s * self.world_size, 1),
            "elapsed_s": round(self.elapsed, 1), "lr": self.optimizer.param_groups[0]["lr"],
        }  # fmt: skip
        if self.rank == 0:
            self.md.append_metrics(row)
            self.md.log(" ".join(f"{k}={v}" for k, v in row.items()))
        self.progress({"event": "epoch", **row, "best": self.best, "improved": better})
        return better

    def _shared_evaluation(self) -> dict[str, float]:
        """Rank 0 evaluates; under torchrun the others receive its metrics, so that every rank takes
        the same best-weights and early-stopping decisions (weights are identical on all ranks)."""
        self.model.eval()
        self.eval_model.eval()
        metrics = None
        if self.rank == 0:
            # Evaluated in full precision (no autocast), like `seqtool evaluate`: the recorded best
            # dev metric is then exactly what evaluating the saved weights reports.
            with torch.no_grad():
                metrics = self.evaluate(self.eval_model)
        return broadcast_from_main(metrics, self.world_size)

    def _tie_breaker(self, metrics: dict[str, float]) -> dict[str, float]:
        """What breaks a tie of the objective, kept with the best: the dev loss, if reported (and not the objective)."""
        return (
            {"dev_loss": metrics["dev_loss"]} if "dev_loss" in metrics and self.objective.metric != "dev_loss" else {}
        )

    def _is_better(self, metrics: dict[str, float]) -> bool:
        """Whether ``metrics`` beat the best so far: by the objective, and on a tie (dev BLEU 0.00 of
        a model that has not started translating yet) by the lower dev loss, when the task reports one."""
        if not self.best:
            return True
        value, best = metrics[self.objective.metric], self.best["value"]
        ties = self._tie_breaker(metrics)
        if value == best and ties and "dev_loss" in self.best:
            return ties["dev_loss"] < self.best["dev_loss"]
        return value > best if self.objective.higher_is_better else value < best

    def try_average(self) -> None:
        """Average the last N epochs' weights; keep the average only if it scores better."""
        model = self.eval_model
        current = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(mean_weights(self.recent_weights))
        metrics = self._shared_evaluation()
        value, n = metrics[self.objective.metric], len(self.recent_weights)
        if self._is_better(metrics):
            self.best = {"metric": self.objective.metric, "value": value, "epoch": self.epoch, "averaged": n,
                         **self._tie_breaker(metrics)}  # fmt: skip
            if self.rank == 0:
                save_weights(model, self.md.weights_path)
                self.md.log(f"averaged last {n} epochs: {self.objective.metric}={value:.4f} (kept)")
        else:
            model.load_state_dict(current)
            if self.rank == 0:
                self.md.log(f"averaged last {n} epochs: {self.objective.metric}={value:.4f} (not kept: "
                            f"best {self.best['value']:.4f} at epoch {self.best['epoch']})")  # fmt: skip
