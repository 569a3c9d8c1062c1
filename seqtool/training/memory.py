"""Give the C heap's free pages back to the operating system while training.

Why: torch allocates every CPU tensor with malloc. Batches of varying length make activations of many
sizes; glibc keeps the freed blocks in its heap for reuse, and the heap fragments, so a process's RSS
grows epoch after epoch to several times what it holds alive (a 60-minute train-mt run: 5 GB for a
7.5 M-parameter model). ``malloc_trim(0)`` hands every free page inside the heap back (madvise), not only
the top; the blocks stay in malloc's free lists and are faulted in again only if reused. Done every
``every`` steps and after each evaluation (whose beam search makes many more sizes), it stops that slow
growth at no measured speed cost; it does not lower the peak within a step, which the next few steps
touch again (60-minute runs: 3.3 GB instead of 5 GB; docs/benchmarks.md, "Memory").

A fixed mmap threshold would do the same for every large block at every step, and cost 45% of the speed.
The real cure is another allocator: where tcmalloc is installed the training commands run with it
(``seqtool.cli._restart_with_tcmalloc``); glibc's heap then holds little to trim. Elsewhere than glibc
(macOS, musl) this is a no-op.
"""

from __future__ import annotations

from seqtool.machine import find_malloc_trim, release_free_memory
from seqtool.training.knobs import DEFAULT_TRIM_EVERY, TRIM_EVERY_ENV, count_from_environment


class HeapTrimmer:
    """Calls ``malloc_trim(0)`` every ``every`` training steps and whenever asked."""

    def __init__(self, every: int | None = None) -> None:
        # SEQTOOL_TRIM_EVERY=0 turns trimming off (benchmarks/mt_memory.sh compares the two).
        self.every = count_from_environment(TRIM_EVERY_ENV, DEFAULT_TRIM_EVERY, "steps") if every is None else every
        self._trim = find_malloc_trim() if self.every > 0 else None
        # Made when training starts: what the set-up (encoding, the batch plan) freed goes back first.
        self.trim()

    def after_step(self, step: int) -> None:
        if self._trim is not None and step % self.every == 0:
            self._trim(0)

    def trim(self) -> bool:
        """Release the heap's free pages now (glibc's and, when it is loaded, tcmalloc's); whether it could."""
        return self.every > 0 and release_free_memory()
