"""seqtool: train, run, compare and evaluate sequence models from the command line.

The package is a library first: every command in :mod:`seqtool.cli` is a thin wrapper
around functions here that return results and raise :class:`seqtool.errors.SeqtoolError`
on bad input. Importing ``seqtool`` is cheap; torch and gensim are imported only by the
modules that need them.
"""

__version__ = "0.1.0"
