"""Recurrent encoder-decoder translators, with or without attention, and the registry of translator
architectures (``--arch``: gru, lstm and the Transformer of :mod:`seqtool.models.transformer`).

Without attention this is the course baseline: the encoder's final state is the "thought vector"
from which the decoder starts. With attention, the decoder looks at every encoder state at each
step; ``bahdanau`` scores them additively (v . tanh(W h + U s)) and ``luong`` multiplicatively
(h . W s). In both cases attention is computed *after* the decoder's recurrent step, from its
output (Luong et al. 2015's placement): the decoder RNN then does not depend on the attention
result, so during training it runs over the whole target sentence in one fused call instead of
a Python loop over time steps, which is several times faster on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtool.data.batch import Batch
from seqtool.errors import SettingError, check_settings_positive
from seqtool.models.base import SequenceModel, State, padding_mask
from seqtool.models.layers import make_attention
from seqtool.models.rnn import Hidden, hidden_to_state, make_rnn, state_to_hidden
from seqtool.models.transformer import TransformerConfig

ATTENTIONS = ("none", "bahdanau", "luong")


@dataclass
class RNNTranslatorConfig:
    """Every key of a recurrent translator's config.json "model" section."""

    src_vocab: int = 8000
    tgt_vocab: int = 8000
    cell: str = "gru"  # gru | lstm
    emb_dim: int = 256
    hidden: int = 256
    layers: int = 1
    bidirectional: bool = False  # encoder reads the source both ways
    dropout: float = 0.2
    attention: str = "none"  # none | bahdanau | luong
    tie_embeddings: bool = True  # target embedding shared with the output layer

    sizes: ClassVar[tuple[str, ...]] = ("emb_dim", "hidden", "layers")  # must be > 0
    recipe: ClassVar[str] = "recurrent"  # its default training recipe (seqtool.tasks.mt.MT_RECIPES)
    exportable: ClassVar[bool] = False  # CTranslate2 has no recurrent models (CTranslate2 #796)

    def validate(self) -> None:
        if self.attention not in ATTENTIONS:
            raise SettingError(f"`attention` must be one of {', '.join(ATTENTIONS)}, got {self.attention!r}")

    def build(self) -> RNNTranslator:
        return RNNTranslator(self)

    def describe(self) -> str:
        """config.json "arch": bigru+bahdanau, lstm, ..."""
        return f"{'bi' if self.bidirectional else ''}{self.cell}" + (
            f"+{self.attention}" if self.attention != "none" else "")  # fmt: skip


class RNNEncoder(nn.Module):
    def __init__(self, cfg: RNNTranslatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.src_vocab, cfg.emb_dim, padding_idx=0)
        self.rnn = make_rnn(cfg.cell, cfg.emb_dim, cfg.hidden, cfg.layers, cfg.dropout, cfg.bidirectional)
        self.dropout = nn.Dropout(cfg.dropout)
        # A bidirectional encoder's two final states are merged into the decoder's initial state.
        self.bridge = nn.Linear(2 * cfg.hidden, cfg.hidden) if cfg.bidirectional else None

    def forward(self, src: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, Hidden]:
        """-> outputs (B, S, H * directions) and the decoder's initial hidden state (layers, B, H)."""
        x = self.dropout(self.embed(src))
        # Packing makes the backward direction start at each sentence's real last word, not at padding.
        packed = pack_padded_sequence(x, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        out, hidden = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        return self.dropout(out), self._merge(hidden)

    def _merge(self, hidden: Hidden) -> Hidden:
        if self.bridge is None:
            return hidden
        if isinstance(hidden, tuple):
            return self._merge(hidden[0]), self._merge(hidden[1])
        layers, b, h = self.cfg.layers, hidden.shape[1], self.cfg.hidden
        both = hidden.view(layers, 2, b, h).permute(0, 2, 1, 3).reshape(layers, b, 2 * h)
        return torch.tanh(self.bridge(both))


class RNNTranslator(SequenceModel):
    def __init__(self, cfg: RNNTranslatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        key_dim = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.encoder = RNNEncoder(cfg)
        self.embed = nn.Embedding(cfg.tgt_vocab, cfg.emb_dim, padding_idx=0)
        self.rnn = make_rnn(cfg.cell, cfg.emb_dim, cfg.hidden, cfg.layers, cfg.dropout)
        self.attention = make_attention(cfg.attention, cfg.hidden, key_dim)
        self.source_state = frozenset({"keys", "projected", "mask"})
        self.combine = nn.Linear(cfg.hidden + key_dim, cfg.hidden) if self.attention is not None else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.hidden, cfg.emb_dim) if cfg.tie_embeddings and cfg.hidden != cfg.emb_dim else None
        self.output = nn.Linear(cfg.emb_dim if cfg.tie_embeddings else cfg.hidden, cfg.tgt_vocab)
        if cfg.tie_embeddings:
            self.output.weight = self.embed.weight

    def _attend(self, out: torch.Tensor, keys: torch.Tensor, projected: torch.Tensor, mask: torch.Tensor):
        context, weights = self.attention(out, keys, projected, mask)
        return torch.tanh(self.combine(torch.cat([out, context], dim=-1))), weights

    def _read_out(self, out: torch.Tensor) -> torch.Tensor:
        out = self.dropout(out)
        return self.proj(out) if self.proj is not None else out

    def features(self, batch: Batch) -> torch.Tensor:
        keys, hidden = self.encoder(batch.src, batch.src_lengths)
        out, _ = self.rnn(self.dropout(self.embed(batch.tgt_in)), hidden)
        if self.attention is not None:
            mask = padding_mask(batch.src_lengths.to(keys.device), keys.shape[1])
            out, _ = self._attend(out, keys, self.attention.precompute(keys), mask)
        return self._read_out(out)

    def start(self, src: torch.Tensor | None, src_lengths: torch.Tensor | None, batch_size: int) -> State:
        keys, hidden = self.encoder(src, src_lengths)
        state = hidden_to_state(hidden)
        if self.attention is not None:
            state["keys"], state["projected"] = keys, self.attention.precompute(keys)
            state["mask"] = padding_mask(src_lengths.to(keys.device), keys.shape[1])
        return state

    def step_logits(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, hidden = self.rnn(self.embed(tokens[:, None]), state_to_hidden(state))
        new = {**state, **hidden_to_state(hidden)}
        if self.attention is not None:
            out, weights = self._attend(out, state["keys"], state["projected"], state["mask"])
            new["attn"] = weights[:, 0]
        logits = self.logits(self._read_out(out[:, 0]))
        return logits, new


# arch -> (its config class, config.json "model" keys -> the train-mt parameters that set them: a
# Transformer's ``dim`` is set by ``emb_dim``; the other keys are not options). A new translator
# architecture is a config class, a model whose constructor takes it, and one entry here (register_translator).
TRANSLATOR_ARCHS: dict[str, tuple[type, dict[str, str]]] = {}


def register_translator(arch: str, config_cls: type, options: dict[str, str]) -> None:
    TRANSLATOR_ARCHS[arch] = (config_cls, options)


_RNN_OPTIONS = {key: key for key in ("emb_dim", "hidden", "layers", "bidirectional", "attention", "dropout")}
register_translator("gru", RNNTranslatorConfig, _RNN_OPTIONS)
register_translator("lstm", RNNTranslatorConfig, _RNN_OPTIONS)
register_translator("transformer", TransformerConfig, {
    "dim": "emb_dim", "encoder_layers": "layers", "decoder_layers": "decoder_layers", "heads": "heads",
    "ff_dim": "ff_dim", "dropout": "dropout", "attention_dropout": "attention_dropout",
    "activation_dropout": "activation_dropout", "source_word_dropout": "source_word_dropout"})  # fmt: skip


def _arch(arch: str) -> tuple[type, dict[str, str]]:
    if arch not in TRANSLATOR_ARCHS:
        raise SettingError(f"`arch` must be one of {', '.join(TRANSLATOR_ARCHS)}, got {arch!r}")
    return TRANSLATOR_ARCHS[arch]


def translator_config(arch: str, values: dict[str, Any]) -> Any:
    """The typed config of ``arch`` from a dict (config.json or command-line options), validated."""
    cls, options = _arch(arch)
    unknown = sorted(set(values) - set(cls.__dataclass_fields__))
    if unknown:
        raise SettingError(f"unknown {arch} translator setting(s) {', '.join(unknown)}: `arch` {arch} takes "
                           f"{', '.join(f'`{k}`' for k in options)}")  # fmt: skip
    cfg = cls(**values)
    if hasattr(cfg, "cell"):  # one config class serves both recurrent cells
        cfg.cell = arch
    cfg.validate()
    check_settings_positive(cfg, *cfg.sizes)
    rates = ("dropout", "attention_dropout", "activation_dropout", "source_word_dropout")
    for name in (r for r in rates if hasattr(cfg, r)):
        if not 0 <= getattr(cfg, name) < 1:
            raise SettingError(f"`{name}` must be in [0, 1), got {getattr(cfg, name)}")
    return cfg


def build_translator(cfg: Any) -> SequenceModel:
    """The translator of a validated config (each config class builds its own model)."""
    return cfg.build()
