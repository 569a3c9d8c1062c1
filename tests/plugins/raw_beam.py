"""A new decoding strategy in one file: beam search ranked by total log-probability (no length penalty).

Registered as ``--strategy raw-beam``; translate, the server and tune-decoding find it by name. It is the
beam search with alpha 0, which favours short outputs: a strategy worth having only to compare.
"""

from __future__ import annotations

import torch

from seqtool.data.search import Hypothesis, SearchOptions
from seqtool.decoding import beam_search, register_strategy
from seqtool.models.base import SequenceModel


@register_strategy("raw-beam")
def raw_beam(
    model: SequenceModel, src: torch.Tensor, lengths: torch.Tensor, o: SearchOptions
) -> list[list[Hypothesis]]:
    return beam_search(model, src, lengths, beam=max(o.beam, o.nbest), alpha=0.0, nbest=o.nbest, max_len=o.max_len)
