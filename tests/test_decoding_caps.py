"""A sentence decodes the same alone and in a batch with longer ones: each row has its own length cap.

An untrained translator rarely emits end-of-sentence, so every output runs into its cap: the case in
which a batch-wide cap (from the longest source) used to let a short sentence run on when batched.
"""

from __future__ import annotations

import pytest
import torch

from seqtool.data.search import output_length_cap
from seqtool.decoding import beam_search, greedy
from seqtool.models.seq2seq import build_translator, translator_config


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    cfg = translator_config("transformer", dict(src_vocab=40, tgt_vocab=40, dim=32, heads=2, ff_dim=64,
                                                encoder_layers=1, decoder_layers=1, dropout=0.0))  # fmt: skip
    return build_translator(cfg).eval()


def sources(*lengths: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    src = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for r, n in enumerate(lengths):
        src[r, :n] = torch.randint(4, 40, (n,), generator=g)
    return src, torch.tensor(lengths)


def test_greedy_rows_stop_at_their_own_cap(untrained):
    src, lengths = sources(2, 30)
    short_alone = greedy(untrained, src[:1, :2], lengths[:1])[0]
    short_batched, long_batched = greedy(untrained, src, lengths)
    assert short_batched.ids == short_alone.ids
    assert short_batched.score == pytest.approx(short_alone.score, abs=1e-4)
    assert len(short_batched.ids) <= output_length_cap(2) < len(long_batched.ids) + 1


@pytest.mark.parametrize("beam", [3, 5])
def test_beam_rows_stop_at_their_own_cap(untrained, beam):
    src, lengths = sources(3, 28)
    alone = beam_search(untrained, src[:1, :3], lengths[:1], beam=beam, nbest=beam)[0]
    batched = beam_search(untrained, src, lengths, beam=beam, nbest=beam)[0]
    assert [h.ids for h in batched] == [h.ids for h in alone]
    assert [h.normalized for h in batched] == pytest.approx([h.normalized for h in alone], abs=1e-4)
    assert all(len(h.ids) <= output_length_cap(3) for h in batched)
