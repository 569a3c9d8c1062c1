"""`python -m seqtool` (also what `torchrun -m seqtool` runs)."""

from seqtool.cli import run

if __name__ == "__main__":
    run()
