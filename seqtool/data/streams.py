"""Stream batching for recurrent language models (truncated back-propagation through time).

The encoded corpus is read as one long stream, ``<eos> s1 <eos> s2 <eos> ...`` (sentences in an
order shuffled per epoch), cut into ``rows`` parallel streams of equal length; each batch is the
next window of every stream (``bptt`` tokens, or lengths drawn around it: AWD-LSTM's N(bptt, 5)),
and the model starts each window from the state the previous one ended in (``Batch.carry``).

As in sentence batching, a sentence starts with the input ``<bos>`` and ends with the target
``<eos>``: the end-of-sentence between two sentences is the target after the first, and is read
as ``<bos>`` when it is the input before the second. A prompt given to ``predict-next`` or
``generate`` (``<bos>`` + prompt, a zero state) is then read as the start of a stream, and
per-sentence evaluation scores exactly the tokens it scores for a sentence-trained model.

Nothing is copied: ids are read from the memory-mapped corpus per window; the per-epoch layout
holds two integers per sentence (its stream position and the order), like sentence batching.
Windows are a pure function of (seed, epoch), so a resumed run reads the same windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqtool.data.batch import Batch
from seqtool.data.batching import EncodedCorpus
from seqtool.data.specials import BOS, EOS
from seqtool.errors import DataError


@dataclass
class StreamLayout:
    """One epoch's stream: sentence ``order[j]`` starts at stream position ``starts[j]``."""

    corpus: EncodedCorpus
    order: np.ndarray
    starts: np.ndarray
    rows: int
    row_length: int  # stream positions per row

    def tokens(self, positions: np.ndarray) -> np.ndarray:
        """The stream's token at each position (``<eos>`` before and after every sentence)."""
        j = np.searchsorted(self.starts, positions, side="right") - 1
        inside = j >= 0
        sentence = self.order[np.maximum(j, 0)]
        k = positions - self.starts[np.maximum(j, 0)]
        lengths = self.corpus.offsets[sentence + 1] - self.corpus.offsets[sentence]
        word = inside & (k < lengths)
        out = np.full(positions.shape, EOS, dtype=np.int64)
        out[word] = self.corpus.ids[self.corpus.offsets[sentence[word]] + k[word]]
        return out


def stream_layout(corpus: EncodedCorpus, rows: int, seed: int, epoch: int, shuffle: bool = True) -> StreamLayout:
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(corpus)) if shuffle else np.arange(len(corpus))
    starts = np.empty(len(order), dtype=np.int64)
    starts[0] = 1  # position 0 is the <eos> that precedes the first sentence
    np.cumsum(corpus.lengths()[order][:-1] + 1, out=starts[1:])
    starts[1:] += 1
    total = int(starts[-1] + corpus.lengths()[order[-1]] + 1)
    row_length = total // rows
    if row_length < 3:
        raise DataError(
            f"the training text has {total:,} tokens: too few for {rows} streams; use a smaller --batch-size"
        )
    return StreamLayout(corpus, order, starts, rows, row_length)


def window_spans(row_length: int, bptt: int, seed: int, epoch: int, jitter: bool = False) -> list[tuple[int, int]]:
    """(start, length) of every window of one epoch: inputs at columns start..start+length-1 of each
    row, targets one column later. ``jitter``: lengths max(5, N(bptt, 5)), bptt halved 5% of the time."""
    rng = np.random.default_rng([seed, epoch, 1])
    spans, start, last = [], 0, row_length - 1
    while start < last:
        length = bptt
        if jitter:
            base = bptt if rng.random() < 0.95 else bptt / 2
            length = max(min(5, bptt), int(rng.normal(base, 5)))
        length = min(length, last - start)
        spans.append((start, length))
        start += length
    return spans


class StreamBatches:
    """The epoch's windows (``windows``) and the batch of one window (``batch``) for the Trainer.

    Under torchrun every rank reads every window, for its own rows (streams) ``rank::world_size``:
    the Trainer must not shard the windows themselves (``shard_batches=False``)."""

    def __init__(
        self, corpus: EncodedCorpus, rows: int, bptt: int, seed: int, jitter: bool = False, rank: int = 0,
        world_size: int = 1,
    ) -> None:  # fmt: skip
        if rows < world_size:
            raise DataError(f"{rows} streams cannot be shared by {world_size} processes; use a larger --batch-size")
        self.corpus, self.rows, self.bptt, self.seed, self.jitter = corpus, rows, bptt, seed, jitter
        self.my_rows = np.arange(rank, rows, world_size)
        self._layout: StreamLayout | None = None
        self._epoch = -1

    def layout(self, epoch: int) -> StreamLayout:
        if epoch != self._epoch:
            self._layout, self._epoch = stream_layout(self.corpus, self.rows, self.seed, epoch), epoch
        assert self._layout is not None
        return self._layout

    def windows(self, epoch: int) -> list[np.ndarray]:
        spans = window_spans(self.layout(epoch).row_length, self.bptt, self.seed, epoch, self.jitter)
        return [np.array([epoch, start, length]) for start, length in spans]

    def batch(self, window: np.ndarray) -> Batch:
        epoch, start, length = (int(v) for v in window)
        layout = self.layout(epoch)
        columns = np.arange(start, start + length + 1)
        tokens = layout.tokens(self.my_rows[:, None] * layout.row_length + columns[None, :])
        inputs = np.where(tokens[:, :-1] == EOS, BOS, tokens[:, :-1])
        return Batch(
            tgt_in=torch.from_numpy(inputs), tgt_out=torch.from_numpy(np.ascontiguousarray(tokens[:, 1:])),
            stream=True, carry=start > 0,
        )  # fmt: skip
