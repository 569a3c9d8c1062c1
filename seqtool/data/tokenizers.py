"""Tokenizers: a word vocabulary or a sentencepiece model behind one small interface.

Both reserve the same four special ids (``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3), so models
and decoders never need to know which tokenizer they were trained with. A tokenizer also owns the
*text convention* of its language:

- English (``normalize="english"``): raw input such as ``I can't swim.`` is turned into the corpus
  convention ``i can 't swim .`` before encoding (idempotent on corpus lines).
- Languages written without spaces (``strip_spaces=True``, used for a Japanese *source*): the
  corpus's word-separating spaces are removed before encoding, so raw ``私は泳げない。`` and segmented
  ``私 は 泳げ な い 。`` map to the same pieces.
- Japanese split into words by MeCab (``segment="mecab"``, for a raw Japanese corpus): text is
  re-segmented before encoding, so sentencepiece learns pieces within words instead of word groups
  (docs/data-prepare.md); decoded output has spaces between words, as a segmented corpus's has.

A tokenizer is saved into the model folder (``<prefix>.vocab.json`` or ``<prefix>.model``) and
described by a small dict stored in ``config.json``."""

from __future__ import annotations

import collections
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seqtool.data.corpus import reservoir_sample
from seqtool.data.specials import BOS, EOS, PAD, SPECIAL_PIECES, UNK
from seqtool.data.text import SEGMENTERS, join_japanese, mecab_words, normalize_english
from seqtool.errors import DataError, OptionError
from seqtool.files import atomic_write_bytes, atomic_write_json
from seqtool.machine import release_free_memory

SPECIALS = SPECIAL_PIECES


TOKENIZER_KINDS = ("word", "unigram", "bpe")


class Tokenizer(ABC):
    """Text <-> ids. Subclasses implement the vocabulary; this class owns the text convention."""

    kind: str

    def __init__(self, normalize: str = "none", strip_spaces: bool = False, segment: str = "none") -> None:
        if segment not in SEGMENTERS:
            raise OptionError(f"a tokenizer's segmenter must be one of {', '.join(SEGMENTERS)}, got {segment!r}")
        self.normalize = normalize
        self.strip_spaces = strip_spaces
        self.segment = segment

    def prepare(self, text: str) -> str:
        """Raw or corpus text -> the convention the vocabulary was built on."""
        if self.normalize == "english":
            text = normalize_english(text)
        if self.segment == "mecab":
            return mecab_words(text)
        if self.strip_spaces:
            text = join_japanese(text)
        return text.strip()

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Ids for ``text`` (prepared first), without ``<bos>``/``<eos>``."""

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str:
        """Text for ``ids``; specials are dropped; words separated by spaces."""

    @abstractmethod
    def id_to_piece(self, i: int) -> str: ...

    @abstractmethod
    def piece_to_id(self, piece: str) -> int: ...

    @abstractmethod
    def save(self, folder: Path, prefix: str) -> dict[str, Any]:
        """Write the vocabulary/model files; return the dict to store in config.json."""

    def pieces(self, text: str) -> list[str]:
        return [self.id_to_piece(i) for i in self.encode(text)]

    def _base_config(self) -> dict[str, Any]:
        segment = {"segment": self.segment} if self.segment != "none" else {}  # absent: as before there was one
        return {"kind": self.kind, "normalize": self.normalize, "strip_spaces": self.strip_spaces, **segment}


class WordTokenizer(Tokenizer):
    """Space-separated words; words seen fewer than ``min_count`` times become ``<unk>``."""

    kind = "word"

    def __init__(
        self, tokens: Sequence[str], normalize: str = "none", strip_spaces: bool = False, segment: str = "none"
    ) -> None:
        super().__init__(normalize, strip_spaces, segment)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise DataError(f"word vocabulary must start with {', '.join(SPECIALS)}")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        # Text that spells "<eos>" (or <pad>, <bos>) is an unknown word, not a control id that ends a sequence.
        self.word_index = {t: i for t, i in self.index.items() if i not in (PAD, BOS, EOS)}

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        *,
        min_count: int = 1,
        max_size: int | None = None,
        normalize: str = "none",
        strip_spaces: bool = False,
        segment: str = "none",
    ) -> WordTokenizer:
        probe = cls(SPECIALS, normalize, strip_spaces, segment)
        counts: collections.Counter[str] = collections.Counter()
        for line in lines:
            counts.update(probe.prepare(line).split())
        words = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_count]
        words = [w for w in words if w not in SPECIALS]
        if max_size is not None:
            words = words[: max(0, max_size - len(SPECIALS))]
        if not words:
            raise DataError(f"no word occurs at least {min_count} times in the training data")
        return cls([*SPECIALS, *words], normalize, strip_spaces, segment)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        get = self.word_index.get
        return [get(w, UNK) for w in self.prepare(text).split()]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.tokens[i] for i in ids if i >= len(SPECIALS) or i == UNK)

    def id_to_piece(self, i: int) -> str:
        return self.tokens[i]

    def piece_to_id(self, piece: str) -> int:
        return self.index.get(piece, UNK)

    def save(self, folder: Path, prefix: str) -> dict[str, Any]:
        filename = f"{prefix}.vocab.json"
        atomic_write_json(folder / filename, self.tokens)
        return {**self._base_config(), "file": filename, "vocab_size": self.vocab_size}

    @classmethod
    def load(cls, folder: Path, cfg: dict[str, Any]) -> WordTokenizer:
        path = folder / cfg["file"]
        try:
            tokens = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:
            raise DataError(f"{path}: cannot read the vocabulary ({e})") from None
        if isinstance(tokens, dict):
            tokens = _tokens_from_mapping(tokens, path)
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{path}: the vocabulary must be a JSON list of strings (or a {{token: id}} object)")
        return cls(tokens, cfg.get("normalize", "none"), cfg.get("strip_spaces", False), cfg.get("segment", "none"))


def _tokens_from_mapping(mapping: dict[str, Any], path: Any) -> list[str]:
    """A ``{token: id}`` vocabulary (the layout of many other tools) as the token list, if its
    ids are exactly 0..n-1; anything else is ambiguous and an error."""
    ids = list(mapping.values())
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or sorted(ids) != list(range(len(ids))):
        raise DataError(f"{path}: a {{token: id}} vocabulary needs the ids 0..{len(ids) - 1}, each once")
    return sorted(mapping, key=mapping.__getitem__)


class SentencePieceTokenizer(Tokenizer):
    """A sentencepiece unigram or BPE model, trained on the (prepared) training text."""

    def __init__(
        self, model_proto: bytes, kind: str, normalize: str = "none", strip_spaces: bool = False, segment: str = "none"
    ) -> None:
        import sentencepiece as spm

        super().__init__(normalize, strip_spaces, segment)
        self.kind = kind
        self.model_proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        *,
        vocab_size: int = 8000,
        kind: str = "unigram",
        normalize: str = "none",
        strip_spaces: bool = False,
        segment: str = "none",
        threads: int = 2,
        max_sentences: int = 1_000_000,
    ) -> SentencePieceTokenizer:
        import sentencepiece as spm

        if kind not in ("unigram", "bpe"):
            raise OptionError(f"sentencepiece model type must be unigram or bpe, got {kind!r}")
        probe = WordTokenizer(SPECIALS, normalize, strip_spaces, segment)
        # Sample the raw lines first, so that only the sample is prepared (normalized, split by MeCab): on 28M
        # raw pairs, preparing every line took most of the tokenizers' 9 minutes (docs/benchmarks.md).
        sample = reservoir_sample(lines, max_sentences)
        sentences = (s for s in (probe.prepare(line) for line in sample) if s)
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=sentences,
                model_writer=buffer,
                model_type=kind,
                vocab_size=vocab_size,
                hard_vocab_limit=False,  # tiny corpora get a smaller vocabulary instead of an error
                character_coverage=0.9995 if strip_spaces else 1.0,
                pad_id=PAD,
                unk_id=UNK,
                bos_id=BOS,
                eos_id=EOS,
                num_threads=threads,
                # at most a 1M-sentence sample of a big corpus: plenty for vocabularies of tens of thousands,
                # where a 2M-pair raw corpus's whole Japanese side took 1.3 GB more
                input_sentence_size=max_sentences,
                shuffle_input_sentence=True,
                minloglevel=2,
            )
        except RuntimeError as e:
            raise DataError(f"sentencepiece could not be trained: {e}") from None
        del sample, sentences  # the sample is freed before the release below
        # What the training freed goes back, before the next tokenizer or the encoding takes more (under
        # tcmalloc, 2M raw pairs: the Japanese side's training stacked 0.4 GB on the English side's leftovers).
        release_free_memory()
        return cls(buffer.getvalue(), kind, normalize, strip_spaces, segment)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(self.prepare(text))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.sp.encode([self.prepare(t) for t in texts])

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode([int(i) for i in ids if i not in (PAD, BOS, EOS)])

    def id_to_piece(self, i: int) -> str:
        return self.sp.id_to_piece(int(i))

    def piece_to_id(self, piece: str) -> int:
        return self.sp.piece_to_id(piece)

    def save(self, folder: Path, prefix: str) -> dict[str, Any]:
        filename = f"{prefix}.model"
        atomic_write_bytes(folder / filename, self.model_proto)
        return {**self._base_config(), "file": filename, "vocab_size": self.vocab_size}

    @classmethod
    def load(cls, folder: Path, cfg: dict[str, Any]) -> SentencePieceTokenizer:
        path = folder / cfg["file"]
        try:
            proto = path.read_bytes()
            return cls(proto, cfg["kind"], cfg.get("normalize", "none"), cfg.get("strip_spaces", False),
                       cfg.get("segment", "none"))  # fmt: skip
        except (OSError, RuntimeError) as e:
            raise DataError(f"{path}: cannot load the sentencepiece model ({e})") from None


def train_tokenizer(
    lines: Iterable[str],
    kind: str,
    *,
    vocab_size: int = 8000,
    min_count: int = 1,
    lang: str = "en",
    strip_spaces: bool = False,
    segment: str = "none",
    threads: int = 2,
) -> Tokenizer:
    """Train a tokenizer of ``kind`` (word, unigram, bpe) with the text convention of ``lang``; ``segment``:
    the word segmenter applied first (:data:`~seqtool.data.text.SEGMENTERS`)."""
    normalize = "english" if lang == "en" else "none"
    if kind == "word":
        return WordTokenizer.train(
            lines, min_count=min_count, max_size=vocab_size, normalize=normalize, strip_spaces=strip_spaces,
            segment=segment,
        )  # fmt: skip
    if kind in ("unigram", "bpe"):
        return SentencePieceTokenizer.train(
            lines, vocab_size=vocab_size, kind=kind, normalize=normalize, strip_spaces=strip_spaces, segment=segment,
            threads=threads,
        )  # fmt: skip
    raise OptionError(f"--tokenizer must be one of {', '.join(TOKENIZER_KINDS)}, got {kind!r}")


def load_tokenizer(folder: Path, cfg: dict[str, Any]) -> Tokenizer:
    """The tokenizer described by ``cfg`` (an entry of config.json) from the model folder ``folder``."""
    if cfg.get("kind") == "word":
        return WordTokenizer.load(folder, cfg)
    if cfg.get("kind") in ("unigram", "bpe"):
        return SentencePieceTokenizer.load(folder, cfg)
    raise DataError(f"{folder / 'config.json'}: unknown tokenizer kind {cfg.get('kind')!r}")
