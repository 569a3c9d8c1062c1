"""One training or evaluation batch: padded id tensors, the unit every model's ``features`` reads."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class Batch:
    """Padded id tensors (PAD = 0). ``tgt_in`` starts with ``<bos>``; ``tgt_out`` ends with ``<eos>``.

    Language models use only the ``tgt_*`` fields; translators also get the source, dialogue models
    the previous utterances.
    """

    tgt_in: torch.Tensor  # (B, T)
    tgt_out: torch.Tensor  # (B, T)
    src: torch.Tensor | None = None  # (B, S)
    src_lengths: torch.Tensor | None = None  # (B,) on the CPU, as pack_padded_sequence wants
    context: torch.Tensor | None = None  # (B, K, S) dialogue models: the K previous utterances
    # Stream batching (seqtool.data.streams): rows are parallel streams read window by window. A model
    # that carries state keeps the (detached) state a stream batch ends in; ``carry``: start from it.
    stream: bool = False
    carry: bool = False

    def to(self, device: torch.device | str) -> Batch:
        moved = {
            f.name: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) and f.name != "src_lengths" else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }
        return Batch(**moved)
