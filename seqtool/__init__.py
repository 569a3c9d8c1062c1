"""seqtool: train, run, compare and evaluate sequence models from the command line.

The package is a library first: every command in :mod:`seqtool.cli` is a thin wrapper
around functions here that return results and raise :class:`seqtool.errors.SeqtoolError`
on bad input. Importing ``seqtool`` is cheap; torch and gensim are imported only by the
modules that need them.
"""

import os

# torch's CPU kernels come from oneDNN, which compiles one kernel per input shape and keeps up to 1,024 of
# them in a cache that never shrinks; training on batches of varying shape fills it. A cache of 64 kept the
# same speed and cut a 3-minute train-mt run's peak RSS by 8% (2.61 -> 2.37 GB). Most of the rest is glibc
# heap fragmentation, whose cure (a fixed mmap threshold) cost 45% of the speed; docs/benchmarks.md, "Memory".
# Set before torch is imported; a value in the environment wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")

__version__ = "0.1.0"
