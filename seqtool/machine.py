"""What this machine lets the process use."""

from __future__ import annotations

import os


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
