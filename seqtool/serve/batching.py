"""Micro-batching: one inference worker thread per model.

Every model has one :class:`ModelWorker`: a thread that owns the model and takes jobs from a queue,
so the model is never used by two threads at once and no request waits behind a global lock of
another model. Translate jobs are *pooled*: when one arrives the worker keeps collecting jobs for
``max_wait_s`` (a few milliseconds) or until the queued sentences reach ``max_tokens`` (estimated
source tokens), then decodes the sentences of all the jobs that share decoding settings in one
call, and hands each job exactly its own results, in its own order. Other work (next-word
predictions, sampling, embedding queries) runs as single jobs on the same thread.

Pooled sentences are decoded independently: beam search keeps each sentence's hypotheses apart
and masks padding. The one thing a batch shares is the output-length cap (proportional to the
batch's longest source; the pooled sentences are decoded as one batch, so it is at least the cap of
every request's own longest sentence). A request with an output that did not end within the cap it
has alone is decoded again on its own: every request gets what it would have got alone.

A job whose request was cancelled before the worker reached it (a client that disconnected) is
dropped without being decoded.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

# translate(texts, search) -> per text, the nbest (display text, Hypothesis) pairs; search: a SearchOptions
TranslateFn = Callable[[Sequence[str], Any], list[list[Any]]]
# fits_alone(texts, results) -> whether the pooled results of one request are those it gets alone
FitsFn = Callable[[Sequence[str], list[list[Any]]], bool]


@dataclass
class _TranslateJob:
    texts: list[str]
    settings: Any  # the request's SearchOptions (hashable): only requests with equal ones are pooled
    cost: int
    future: Future = field(default_factory=Future)


@dataclass
class _CallJob:
    fn: Callable[[], Any]
    future: Future = field(default_factory=Future)


_STOP = object()


def estimated_tokens(text: str) -> int:
    """A cheap source-length estimate for the batch budget (words, or 4 characters a piece for
    text written without spaces), plus end-of-sentence."""
    return max(len(text.split()), len(text) // 4) + 1


class ModelWorker:
    """The inference thread of one model (see the module docstring)."""

    def __init__(
        self,
        name: str,
        translate: TranslateFn | None = None,
        fits_alone: FitsFn | None = None,
        *,
        max_wait_s: float = 0.005,
        max_tokens: int = 2048,
    ) -> None:
        self.name = name
        self._translate = translate
        self._fits_alone = fits_alone
        self.max_wait_s = max_wait_s
        self.max_tokens = max_tokens
        self._queue: queue.Queue[Any] = queue.Queue()
        self._carry: list[Any] = []
        self.batches = 0  # decode calls made (for tests and the load benchmark)
        self._thread = threading.Thread(target=self._run, name=f"seqtool-serve-{name}", daemon=True)
        self._thread.start()

    def translate(self, texts: Sequence[str], search: Any) -> Future:
        if self._translate is None:
            raise TypeError(f"model {self.name!r} does not translate")
        job = _TranslateJob(list(texts), search, sum(estimated_tokens(t) for t in texts))
        self._queue.put(job)
        return job.future

    def call(self, fn: Callable[[], Any]) -> Future:
        job = _CallJob(fn)
        self._queue.put(job)
        return job.future

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the queued jobs, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _next(self, timeout: float | None) -> Any:
        if self._carry:
            return self._carry.pop(0)
        return self._queue.get(timeout=timeout)

    def _run(self) -> None:
        while True:
            job = self._next(None)
            if job is _STOP:
                return
            if isinstance(job, _CallJob):
                if job.future.set_running_or_notify_cancel():
                    _settle(job.future, job.fn)
                continue
            self._decode(self._collect(job))

    def _collect(self, first: _TranslateJob) -> list[_TranslateJob]:
        """The jobs of one batch: ``first`` and whatever arrives within the wait, up to the budget."""
        batch, cost = [first], first.cost
        deadline = time.monotonic() + self.max_wait_s
        while cost < self.max_tokens:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                job = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if not isinstance(job, _TranslateJob):
                self._carry.insert(0, job)  # a call or the stop marker: handled after this batch
                break
            batch.append(job)
            cost += job.cost
        return batch

    def _decode(self, batch: list[_TranslateJob]) -> None:
        live = [job for job in batch if job.future.set_running_or_notify_cancel()]
        groups: dict[tuple[int, int, float], list[_TranslateJob]] = {}
        for job in live:
            groups.setdefault(job.settings, []).append(job)
        for settings, jobs in groups.items():
            try:
                self._decode_group(settings, jobs)
            except Exception as e:  # noqa: BLE001 - one bad job must not fail the others: retry them alone
                if len(jobs) == 1:
                    jobs[0].future.set_exception(e)
                    continue
                for job in jobs:
                    _settle(job.future, lambda job=job, settings=settings: self._pooled(settings, [job.texts])[0])

    def _decode_group(self, settings: Any, jobs: list[_TranslateJob]) -> None:
        results = self._pooled(settings, [job.texts for job in jobs])
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)

    def _pooled(self, settings: Any, requests: list[list[str]]) -> list[list[list[Any]]]:
        """Decode the sentences of all ``requests`` in one call; split the results back per request."""
        assert self._translate is not None
        texts = [t for texts in requests for t in texts]
        found = self._translate(texts, settings)
        self.batches += 1
        out, start = [], 0
        for texts_of_one in requests:
            mine = found[start : start + len(texts_of_one)]
            start += len(texts_of_one)
            if len(requests) > 1 and self._fits_alone is not None and not self._fits_alone(texts_of_one, mine):
                mine = self._translate(texts_of_one, settings)
            out.append(mine)
        return out


def _settle(future: Future, fn: Callable[[], Any]) -> None:
    try:
        future.set_result(fn())
    except BaseException as e:  # noqa: BLE001 - the request's handler turns it into an answer
        future.set_exception(e)
