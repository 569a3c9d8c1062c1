"""``seqtool sweep``: a budgeted hyper-parameter search with Optuna, each trial an ordinary training run.

A trial is the swept command (``train-mt``, ``train-lm``...) run in a child process with a run file (the
base file plus the trial's draws, ``--config``), a name of its own in the workspace and a time budget
(``--max-minutes``). While it trains, the sweep reads its ``metrics.jsonl`` and reports every epoch's dev
metric to the study, whose pruner (median, or Hyperband) stops a trial that is behind the others at the
same epoch (SIGINT: the run ends as an interrupted, resumable model). The objective is the best dev
metric of the run (config.json "best"), or, for targets without a per-epoch metric (word vectors), a
command that evaluates the finished model.

The study lives in ``<workspace>/sweeps/<name>/study.db`` (SQLite; ``optuna-dashboard`` opens it), or in
any database Optuna's storage URL names, which several machines can share. A sweep killed by any signal,
SIGKILL included, takes its trial with it (the child dies with its parent) and ``--resume`` goes on: the
trial that was in flight is marked failed and its half-trained folder removed; every finished trial, and
the budget already spent, count.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqtool.errors import OptionError, WorkspaceError
from seqtool.files import atomic_write_json, atomic_write_text, folder_lock
from seqtool.store.workspace import Workspace
from seqtool.tasks.sweep_space import Dimension

PRUNERS = ("median", "hyperband", "none")
Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class SweepTarget:
    """What a sweep runs and maximises or minimises."""

    command: str  # the training command, e.g. "train-mt"
    metric: str  # the dev metric in metrics.jsonl / config.json "best" (or in the evaluation's JSON)
    maximize: bool
    fixed: dict[str, Any] = field(default_factory=dict)  # options every trial gets (e.g. no decoding tuning)
    evaluate: tuple[str, ...] = ()  # a command (+ options) whose --json output holds the objective
    per_epoch: bool = True  # the run writes the metric every epoch (pruning possible)
    budget_option: str | None = "--max-minutes"  # how a trial is given its minutes (None: its epochs bound it)


@dataclass(frozen=True)
class SweepSettings:
    trials: int = 20
    budget_minutes: float = 120.0
    trial_minutes: float = 10.0
    jobs: int = 1  # trials at once
    threads: int = 1  # torch threads per trial
    pruner: str = "median"
    seed: int = 1
    storage: str | None = None  # an Optuna storage URL instead of the workspace's SQLite file

    def validate(self) -> None:
        for name in ("trials", "budget_minutes", "trial_minutes", "jobs", "threads"):
            if getattr(self, name) <= 0:
                raise OptionError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if self.pruner not in PRUNERS:
            raise OptionError(f"--pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")


def sweep_folder(ws: Workspace, name: str) -> Path:
    return ws.root / "sweeps" / name


class Sweep:
    """One named sweep in a workspace (see the module docstring)."""

    def __init__(self, ws: Workspace, name: str, target: SweepTarget, base: dict[str, Any],
                 space: list[Dimension], settings: SweepSettings) -> None:  # fmt: skip
        self.ws, self.name, self.target, self.base = ws, name, target, base
        self.space, self.settings = space, settings
        self.folder = sweep_folder(ws, name)
        self.stop = threading.Event()
        self._clock = (0.0, time.monotonic())

    # --- the study ---------------------------------------------------------------------------------
    def storage_url(self) -> str:
        return self.settings.storage or f"sqlite:///{(self.folder / 'study.db').resolve()}"

    def open_study(self, resume: bool) -> Any:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # the heartbeat's
        pruner: Any = {
            "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
            "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3),
            "none": optuna.pruners.NopPruner,
        }[self.settings.pruner]()
        sampler = optuna.samplers.TPESampler(seed=self.settings.seed, n_startup_trials=min(5, self.settings.trials))
        storage = optuna.storages.RDBStorage(self.storage_url(), heartbeat_interval=30, grace_period=120)
        direction = "maximize" if self.target.maximize else "minimize"
        study = optuna.create_study(study_name=self.name, storage=storage, sampler=sampler, pruner=pruner,
                                    direction=direction, load_if_exists=resume or self.settings.storage is not None)  # fmt: skip
        if resume:
            self._fail_stale_trials(study)
        if "command" not in study.user_attrs:
            study.set_user_attr("command", self.target.command)
            study.set_user_attr("metric", self.target.metric)
            study.set_user_attr("spent_s", 0.0)
        return study

    def _fail_stale_trials(self, study: Any) -> None:
        """Trials left RUNNING by a killed sweep: failed, their half-trained folders removed. With the
        workspace's own SQLite file no other process runs them (the sweep's lock); with a shared
        database only trials whose heartbeat stopped are (Optuna's grace period)."""
        from optuna.storages import fail_stale_trials
        from optuna.trial import TrialState

        if self.settings.storage is None:
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001 - no public API
                self._remove_model(t.user_attrs.get("model"))
        else:
            fail_stale_trials(study)

    def _remove_model(self, model: str | None) -> None:
        if model and self.ws.model_dir(model).path.is_dir():
            with contextlib.suppress(WorkspaceError, OSError):
                self.ws.remove(model)

    # --- running -----------------------------------------------------------------------------------
    def run(self, resume: bool, progress: Progress = lambda _: None) -> Any:
        """Run (or resume) the sweep until its trials or its budget are spent; returns the study."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.folder, f"sweep {self.name!r} is running in another process; wait for it"):
            study = self.open_study(resume)
            # A failed trial (an error, or the one in flight when a sweep was killed) does not count.
            done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials)
            spent = float(study.user_attrs.get("spent_s", 0.0))
            budget_s = self.settings.budget_minutes * 60 - spent
            if done >= self.settings.trials or budget_s < 30:
                progress({"event": "status", "message": f"nothing left to do ({done} trials, {spent / 60:.1f} "
                          f"of {self.settings.budget_minutes:g} minutes spent)"})  # fmt: skip
                return study
            deadline = time.monotonic() + budget_s
            self._clock = (spent, time.monotonic())  # the minutes spent before this run, and when it began
            try:
                # A trial starts only while a whole one fits in what is left (a trial cut short by the budget
                # would be judged on less training than the others); the first always starts.
                last_start = max(1.0, budget_s - self.settings.trial_minutes * 60)
                study.optimize(lambda trial: self._trial(trial, deadline, progress),
                               n_trials=self.settings.trials - done, timeout=last_start, n_jobs=self.settings.jobs,
                               catch=(TrialFailed,), callbacks=[lambda s, t: self._after_trial(s, t, progress)])  # fmt: skip
            finally:
                self.stop.set()
                self._record_spent(study)
                self.write_summary(study)
            return study

    def trial_options(self, trial: Any) -> dict[str, Any]:
        drawn = {d.name: d.suggest(trial) for d in self.space}
        return {**self.base, **self.target.fixed, **drawn}

    def _trial(self, trial: Any, deadline: float, progress: Progress) -> float:
        import optuna

        model = f"{self.name}-t{trial.number:03d}"
        trial.set_user_attr("model", model)
        options = self.trial_options(trial)
        run_file = self.folder / "trials" / f"t{trial.number:03d}.yaml"
        run_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_file, dump_run_file(options))
        left_s = deadline - time.monotonic()
        if left_s < 15:  # too little for a set-up and an epoch
            raise optuna.TrialPruned("the sweep's budget is spent")
        minutes = min(self.settings.trial_minutes, left_s / 60)
        progress({"event": "trial", "number": trial.number, "model": model, "params": trial.params})
        argv = [sys.executable, "-m", "seqtool", "-w", str(self.ws.root), self.target.command, "--config",
                str(run_file), "--name", model, "--threads", str(self.settings.threads)]  # fmt: skip
        if self.target.budget_option:
            argv += [self.target.budget_option, f"{minutes:.3f}"]
        log = self.folder / "trials" / f"t{trial.number:03d}.log"
        try:
            pruned = self._watch(trial, argv, log, model)
            if not pruned:
                return self._objective(trial, model, log)
        except TrialFailed as e:
            trial.set_user_attr("error", str(e))  # shown in the table and summary.json
            raise
        raise optuna.TrialPruned(f"behind the other trials at evaluation {pruned}")

    def _watch(self, trial: Any, argv: list[str], log: Path, model: str) -> int:
        """Run the trial's training, reporting each epoch's dev metric; the epoch it was pruned at, or 0."""
        metrics = self.ws.model_dir(model).metrics_path
        seen, pruned_at = 0, 0
        with log.open("w", encoding="utf-8") as out:
            child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            try:
                while True:
                    finished = child.poll() is not None
                    rows = _read_rows(metrics)
                    for n, row in enumerate(rows[seen:], start=seen + 1):
                        value = row.get(self.target.metric)
                        if isinstance(value, int | float):
                            # the n-th evaluation (a budget's last epoch is fractional, e.g. 3.4: step 4)
                            trial.report(float(value), n)
                            if self.target.per_epoch and trial.should_prune() and not finished:
                                pruned_at = n
                                break
                    seen = len(rows)
                    if finished:
                        break
                    if pruned_at or self.stop.is_set():
                        _stop(child)
                        break
                    time.sleep(0.5)
            finally:
                if child.poll() is None:
                    _stop(child)
        if child.returncode != 0 and not pruned_at:
            last = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
            why = last[-1].strip(" │╰─╯") if last else ""
            raise TrialFailed(f"{model}: exit code {child.returncode} ({why}); see {log}")
        return pruned_at

    def _objective(self, trial: Any, model: str, log: Path) -> float:
        if self.target.evaluate:
            argv = [sys.executable, "-m", "seqtool", "-w", str(self.ws.root), *self.target.evaluate, "--model", model,
                    "--json"]  # fmt: skip
            done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=_die_with_parent)
            if done.returncode != 0:
                raise TrialFailed(f"{model}: evaluation failed: {done.stderr.strip()[-300:]}")
            value = json.loads(done.stdout).get(self.target.metric)
        else:
            best = self.ws.model_dir(model).config().get("best") or {}
            value = best.get("value")
        if not isinstance(value, int | float):
            raise TrialFailed(f"{model}: no {self.target.metric} to score the trial by; see {log}")
        trial.set_user_attr("epochs", len(_read_rows(self.ws.model_dir(model).metrics_path)))
        return float(value)

    def _record_spent(self, study: Any) -> None:
        spent, started = self._clock
        study.set_user_attr("spent_s", spent + time.monotonic() - started)

    def _after_trial(self, study: Any, trial: Any, progress: Progress) -> None:
        # Recorded after every trial, not only when the sweep ends: a SIGKILL runs no `finally`, and the
        # resumed sweep must not get back the minutes its finished trials used.
        self._record_spent(study)
        self.write_summary(study)
        progress({"event": "trial_done", "number": trial.number, "state": trial.state.name.lower(),
                  "value": trial.value, "model": trial.user_attrs.get("model"),
                  "error": trial.user_attrs.get("error")})  # fmt: skip

    # --- results -----------------------------------------------------------------------------------
    def write_summary(self, study: Any) -> dict[str, Any]:
        """``summary.json`` (the trials, for the page's runs view and for scripts) and ``best.yaml``."""
        summary = summarize(study, self.target)
        atomic_write_json(self.folder / "summary.json", summary)
        if summary["best"] is not None:
            best = {**self.base, **{k.replace("-", "_"): v for k, v in summary["best"]["params"].items()}}
            head = (f"# the best trial of sweep {self.name!r}: {summary['metric']} {summary['best']['value']:.4g} "
                    f"(model {summary['best']['model']}); seqtool {self.target.command} --config FILE\n")  # fmt: skip
            atomic_write_text(self.folder / "best.yaml", head + dump_run_file(best))
        return summary


def list_sweeps(ws: Workspace) -> list[dict[str, Any]]:
    """Every sweep of a workspace as its summary.json says (newest trial last); a sweep that has not
    finished a trial yet, or whose summary cannot be read, is left out."""
    out = []
    for path in sorted((ws.root / "sweeps").glob("*/summary.json")):
        with contextlib.suppress(OSError, ValueError):
            summary = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(summary, dict) and isinstance(summary.get("trials"), list):
                out.append({**summary, "name": path.parent.name})
    return out


def sweep_figures(study: Any, summary: dict[str, Any], figures_dir: Path) -> list[Path]:
    """The optimization history and, with two finished trials or more, the parameters' importances."""
    from seqtool.viz.sweep import history_figure, importance_figure

    written = []
    if any(t["value"] is not None for t in summary["trials"]):
        written.append(history_figure(summary, figures_dir / f"sweep-{summary['study']}-history.png"))
    if sum(t["state"] == "complete" for t in summary["trials"]) >= 2:
        import optuna

        try:
            importances = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError):  # e.g. every trial drew the same values: nothing to apportion
            importances = {}
        if importances:
            title = f"sweep {summary['study']}: what mattered for {summary['metric']}"
            written.append(
                importance_figure(importances, title, figures_dir / f"sweep-{summary['study']}-importances.png")
            )
    return written


class TrialFailed(Exception):
    """A trial's run ended with an error: the study records a failed trial and goes on."""


def summarize(study: Any, target: SweepTarget) -> dict[str, Any]:
    trials = []
    for t in study.trials:
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        trials.append({"number": t.number, "state": t.state.name.lower(), "value": t.value, "params": t.params,
                       "model": t.user_attrs.get("model"), "epochs": t.user_attrs.get("epochs"),
                       "seconds": None if duration is None else round(duration, 1),
                       "error": t.user_attrs.get("error")})  # fmt: skip
    complete = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    pick = max if target.maximize else min
    best = pick(complete, key=lambda t: t["value"]) if complete else None
    return {"study": study.study_name, "command": target.command, "metric": target.metric,
            "direction": "maximize" if target.maximize else "minimize", "trials": trials, "best": best,
            "spent_s": round(float(study.user_attrs.get("spent_s", 0.0)), 1)}  # fmt: skip


def dump_run_file(options: dict[str, Any]) -> str:
    """Options (parameter names or flags) as a run file's YAML, keys spelled as flags (``dev-src``): what
    ``--config`` reads. The one writer of run files: trials, ``best.yaml`` and ``models show --as-config``."""
    import yaml

    plain = {k.replace("_", "-"): str(v) if isinstance(v, Path) else v for k, v in options.items()}
    return yaml.safe_dump(plain, allow_unicode=True, sort_keys=False)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a (growing) metrics.jsonl; a half-written last line is left for later."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    rows = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return rows


def _stop(child: subprocess.Popen) -> None:
    """Interrupt a trial as Ctrl-C would (it saves a resumable checkpoint); kill it if it does not end."""
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when the sweep dies, even by SIGKILL, so that a
    killed sweep leaves no orphan trial training on."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
