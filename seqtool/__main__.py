"""`python -m seqtool` (also what `torchrun -m seqtool` runs)."""

from seqtool.cli import main

if __name__ == "__main__":
    main()
