"""The micro-batching worker on its own (a stand-in decoder): pooling, splitting, re-decoding, cancelling."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from seqtool.data.search import SearchOptions
from seqtool.serve.batching import ModelWorker


class Recorder:
    """A decoder whose output names its input and settings; it records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str], search: SearchOptions) -> list[list[Any]]:
        self.calls.append(list(texts))
        if "boom" in texts:
            raise ValueError("boom")
        return [[(f"{t}/{search.beam}/{k}", None) for k in range(search.nbest)] for t in texts]


def paused(worker: ModelWorker) -> threading.Event:
    """Hold the worker busy until the returned event is set, so jobs pile up in its queue."""
    release = threading.Event()
    worker.call(release.wait)
    return release


def test_queued_requests_are_decoded_in_one_call_and_split_back_in_order() -> None:
    rec = Recorder()
    worker = ModelWorker("m", rec, max_wait_s=0.05)
    release = paused(worker)
    jobs = [["a"], ["b", "c", "d"], ["e", "f"]]
    futures = [worker.translate(texts, SearchOptions(beam=2, nbest=2)) for texts in jobs]
    other = worker.translate(["g"], SearchOptions(beam=1, nbest=1))  # other settings: decoded apart
    release.set()
    results = [f.result(timeout=10) for f in futures]
    assert results == [[[(f"{t}/2/0", None), (f"{t}/2/1", None)] for t in texts] for texts in jobs]
    assert other.result(timeout=10) == [[("g/1/0", None)]]
    assert sorted(rec.calls) == [["a", "b", "c", "d", "e", "f"], ["g"]]
    worker.stop()


def test_the_token_budget_closes_a_batch() -> None:
    rec = Recorder()
    worker = ModelWorker("m", rec, max_wait_s=0.05, max_tokens=4)  # every one-word sentence costs 2
    release = paused(worker)
    futures = [worker.translate([w], SearchOptions(beam=1, nbest=1)) for w in "abcde"]
    release.set()
    assert [f.result(timeout=10)[0][0][0] for f in futures] == ["a/1/0", "b/1/0", "c/1/0", "d/1/0", "e/1/0"]
    assert rec.calls == [["a", "b"], ["c", "d"], ["e"]]
    worker.stop()


def test_a_request_that_would_end_differently_alone_is_decoded_alone() -> None:
    rec = Recorder()
    worker = ModelWorker("m", rec, lambda texts, results: "long" not in texts, max_wait_s=0.05)
    release = paused(worker)
    futures = [
        worker.translate(["x"], SearchOptions(beam=1, nbest=1)),
        worker.translate(["long", "y"], SearchOptions(beam=1, nbest=1)),
    ]
    release.set()
    assert [f.result(timeout=10) for f in futures] == [[[("x/1/0", None)]], [[("long/1/0", None)], [("y/1/0", None)]]]
    assert rec.calls == [["x", "long", "y"], ["long", "y"]]
    worker.stop()


def test_a_failing_request_fails_alone_and_a_cancelled_one_is_never_decoded() -> None:
    rec = Recorder()
    worker = ModelWorker("m", rec, max_wait_s=0.05)
    release = paused(worker)
    good, bad, gone = (worker.translate([t], SearchOptions(beam=1, nbest=1)) for t in ("ok", "boom", "left"))
    assert gone.cancel()  # the client disconnected before the worker reached its request
    release.set()
    assert good.result(timeout=10) == [[("ok/1/0", None)]]
    with pytest.raises(ValueError, match="boom"):
        bad.result(timeout=10)
    assert all("left" not in call for call in rec.calls)
    # The worker is not wedged: later requests and calls are answered.
    assert worker.translate(["after"], SearchOptions(beam=1, nbest=1)).result(timeout=10) == [[("after/1/0", None)]]
    assert worker.call(lambda: 42).result(timeout=10) == 42
    worker.stop()
