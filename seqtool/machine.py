"""What this machine lets the process use."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container's cpuset),
    not merely the cores the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# tcmalloc (gperftools' "minimal" build: Debian/Ubuntu `libtcmalloc-minimal4`, Fedora `gperftools-libs`).
# Training with glibc's malloc fragments the heap: tensors of a different size every batch, freed and
# reused from a heap that only grows (train-mt: 1.6 GB free inside a 2.0 GB heap after 3 minutes, 4 GB RSS
# after an hour). tcmalloc keeps size classes per thread: half the RSS and 8% faster (docs/benchmarks.md).
TCMALLOC_NAMES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4")
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")


def find_tcmalloc() -> str | None:
    """The path of an installed tcmalloc shared library, or None."""
    for folder in LIBRARY_DIRS:
        for name in TCMALLOC_NAMES:
            path = os.path.join(folder, name)
            if os.path.exists(path):
                return path
    return None


def allocator_in_use() -> str:
    """``tcmalloc`` when this process has it loaded (LD_PRELOAD), else ``system`` (the C library's malloc)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return "tcmalloc" if "libtcmalloc" in maps.read() else "system"
    except OSError:  # not Linux
        return "system"


def find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)  # the running process's C library
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def find_tcmalloc_release() -> Callable[[], None] | None:
    """tcmalloc's "give every free page back" when it is the allocator (the training commands preload it: seqtool.cli)."""
    try:
        release = ctypes.CDLL(None).MallocExtension_ReleaseFreeMemory
    except (OSError, AttributeError):  # glibc's malloc, or not Linux
        return None
    release.argtypes, release.restype = [], None
    return release


def release_free_memory() -> bool:
    """Give the heap's free pages back now (tcmalloc's when it is loaded, and glibc's); whether either could.
    For a one-off moment, such as the end of a tokenizer's training (``seqtool.training.memory.HeapTrimmer``
    does it while training)."""
    release, trim = find_tcmalloc_release(), find_malloc_trim()
    if release is not None:
        release()
    if trim is not None:
        trim(0)
    return release is not None or trim is not None
