"""Training: the one :class:`~seqtool.training.trainer.Trainer` loop, its config, precision, the
torchrun collectives (:mod:`.distributed`) and run set-up (:mod:`.run`: folders, resume, rank 0)."""
