"""Ctrl-C during training: a request honoured between steps (see :func:`deferred_interrupt`)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C into a request that the loop honours between steps.

    A KeyboardInterrupt raised in the middle of an optimizer step or an end-of-epoch evaluation
    would leave counters, metrics and weights half-updated, and a checkpoint saved from there
    would not resume correctly. The loop polls the returned function at consistent points
    instead. A second Ctrl-C interrupts at once (the last checkpoint on disk is kept).
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signal handlers can only be installed in the main thread
        return
    requested = False

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: requested
    finally:
        signal.signal(signal.SIGINT, previous)
