"""The model zoo: one file per idea, each model with a ``@dataclass`` config.

- :mod:`layers`: embeddings, sinusoidal positions, attention (additive, multiplicative, multi-head).
- :mod:`rnn`: the recurrent cells (torch's RNN/LSTM/GRU) behind one constructor.
- :mod:`elman`: a small hand-written cell, so that a sigmoid activation is possible.
- :mod:`transformer`: pre-LayerNorm blocks with key/value caches, shared by the LM and MT sides.
- :mod:`lm`: causal language models (recurrent and Transformer) and the window model.
- :mod:`seq2seq`: recurrent encoder-decoder with optional attention, and the Transformer translator.

Every model exposes the same small interface (see :class:`seqtool.models.base.SequenceModel`),
so one training loop and one decoding module serve all of them.
"""
