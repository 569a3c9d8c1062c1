"""The model zoo: one file per idea, each model with a ``@dataclass`` config that builds it.

- :mod:`base`: :class:`~seqtool.models.base.SequenceModel`, the interface every model implements.
- :mod:`layers`: sinusoidal positions, attention (additive, multiplicative, multi-head with caches).
- :mod:`rnn`: torch's fused RNN/LSTM/GRU behind one constructor; :mod:`elman`: a hand-written cell
  (sigmoid activations, binary addition).
- :mod:`lm_config`: the settings every language model shares and the registry of ``--cell`` configs
  (:func:`~seqtool.models.lm_config.register_cell`); :mod:`lm` registers the recurrent, window and
  Transformer cells, :mod:`wavenet` and :mod:`vae` their own.
- :mod:`transformer`: pre-LayerNorm blocks with key/value caches (LM and MT) and the Transformer translator.
- :mod:`seq2seq`: the recurrent encoder-decoder (± attention, ± bidirectional) and the registry of
  translator architectures (``--arch``: :func:`~seqtool.models.seq2seq.register_translator`).
- :mod:`hred`: HRED/VHRED dialogue models; :mod:`quantization`: pruning and int8/bf16 weights.

Every model exposes the same small interface, so one training loop (seqtool.training) and one
decoding module (seqtool.decoding) serve all of them.
"""
