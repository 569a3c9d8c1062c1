"""Several training corpora, with weights: ``train-mt --mix FILE`` (OpenNMT-py's weighted corpora).

A corpus file (YAML or JSON) lists line-aligned pairs of files; paths are relative to the file's folder::

    # mix.yaml: in-domain text three times as often as crawled text
    corpora:
      - src: kftt/train.en
        tgt: kftt/train.ja
        weight: 3
      - src: crawl/train.en
        tgt: crawl/train.ja
        weight: 1

Weights are shares of the training stream, as in OpenNMT-py: with 3 and 1, three of every four training
pairs come from the first corpus, however large each is. An epoch is as many pairs as the corpora hold
together; a corpus whose share is larger than itself is repeated (whole passes, then a random part), one
whose share is smaller gives a different random part each epoch. Without weights (none given) the corpora
are simply concatenated. Tokenizers are trained on all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqtool.data.batching import token_batches
from seqtool.data.corpus import check_file, check_parallel, read_lines
from seqtool.errors import OptionError, nearest_hint
from seqtool.files import read_yaml, yaml_value

PART_KEYS = ("src", "tgt", "weight")


@dataclass(frozen=True)
class MixPart:
    """One corpus of a mix: its two files and its weight (None: no weights, plain concatenation)."""

    src: Path
    tgt: Path
    weight: float | None = None


@dataclass(frozen=True)
class CorpusMix:
    """The training corpora of a run: one pair of files (``--src``/``--tgt``), or a corpus file's list."""

    parts: tuple[MixPart, ...]
    path: Path | None = None  # the corpus file, if any

    @classmethod
    def single(cls, src: Path, tgt: Path) -> CorpusMix:
        return cls((MixPart(src, tgt),))

    @classmethod
    def read(cls, path: Path) -> CorpusMix:
        """Parse and check a corpus file; errors name the file, the line and what to write instead."""
        import yaml

        root = read_yaml(path, "--mix")
        if not isinstance(root, yaml.MappingNode):
            raise OptionError(f"{path}: a corpus file is a mapping with a 'corpora:' list of src/tgt/weight entries")
        entries = None
        for key_node, value_node in root.value:
            key = str(yaml_value(key_node))
            if key != "corpora":
                raise OptionError(f"{path}:{key_node.start_mark.line + 1}: unknown key {key!r} (the file has one "
                                  "key, 'corpora')")  # fmt: skip
            entries = value_node
        if not isinstance(entries, yaml.SequenceNode) or not entries.value:
            raise OptionError(f"{path}: 'corpora:' must list at least one corpus (- src: FILE, tgt: FILE, weight: N)")
        parts = tuple(_part(path, node) for node in entries.value)
        weighted = [p.weight is not None for p in parts]
        if any(weighted) and not all(weighted):
            line = entries.value[weighted.index(False)].start_mark.line + 1
            raise OptionError(f"{path}:{line}: give every corpus a weight, or none (plain concatenation)")
        return cls(parts, path)

    @classmethod
    def from_options(cls, mix: Path | None, src: Path | None, tgt: Path | None) -> CorpusMix | None:
        """``--mix FILE``'s corpora, which replace ``--src``/``--tgt``; None without it."""
        if mix is None:
            return None
        if src is not None or tgt is not None:
            raise OptionError("--mix FILE lists the training corpora: give it or --src/--tgt, not both")
        return cls.read(mix)

    @property
    def weighted(self) -> bool:
        return self.parts[0].weight is not None

    def check(self) -> list[int]:
        """Each part's files exist and are line-aligned: their line counts."""
        counts = []
        for part in self.parts:
            check_file(part.src)
            check_file(part.tgt)
            counts.append(check_parallel(part.src, part.tgt))
        return counts

    def side_paths(self) -> list[list[Path]]:
        """Per part, its (source, target) files: what the encoder reads, part after part."""
        return [[p.src, p.tgt] for p in self.parts]

    def lines(self, side: int) -> Iterator[str]:
        """Every line of one side (0: source, 1: target) of every part, in order: tokenizer training."""
        for part in self.parts:
            yield from (text for _, text in read_lines(part.tgt if side else part.src))

    def describe(self, kept: Sequence[int] = ()) -> list[dict[str, Any]]:
        """For config.json: each part's files, weight and (after encoding) the pairs it kept."""
        out = [{"src": str(p.src), "tgt": str(p.tgt), "weight": p.weight} for p in self.parts]
        for entry, count in zip(out, kept, strict=False):
            entry["pairs"] = count
        return out


def _part(path: Path, node: Any) -> MixPart:
    import yaml

    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise OptionError(f"{path}:{line}: each corpus is a mapping: - src: FILE, tgt: FILE, weight: N")
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(yaml_value(key_node))
        if key not in PART_KEYS:
            raise OptionError(f"{path}:{key_node.start_mark.line + 1}: unknown key {key!r}"
                              f"{nearest_hint(key, PART_KEYS)}; a corpus has {', '.join(PART_KEYS)}")  # fmt: skip
        values[key] = yaml_value(value_node)
    for key in ("src", "tgt"):
        if not isinstance(values.get(key), str) or not values[key]:
            raise OptionError(f"{path}:{line}: this corpus needs '{key}: FILE'")
    weight = values.get("weight")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0):
        raise OptionError(f"{path}:{line}: weight must be a number > 0, got {weight!r}")
    folder = path.parent
    return MixPart(folder / values["src"], folder / values["tgt"], None if weight is None else float(weight))


def weighted_epoch(sizes: Sequence[int], weights: Sequence[float], seed: int, epoch: int) -> np.ndarray:
    """Indices into the concatenated parts (of ``sizes`` examples) for one epoch: ``sum(sizes)`` of them,
    each part's share by ``weights`` (see the module docstring). The same for the same seed and epoch, so a
    resumed run sees the epoch it would have seen."""
    rng = np.random.default_rng([seed, epoch, 0x6D6978])  # its own stream: not the batch shuffle's
    total, weight_sum = sum(sizes), float(sum(weights))
    starts = np.cumsum([0, *sizes])
    picked = []
    for start, size, weight in zip(starts, sizes, weights, strict=False):
        if size == 0:
            continue
        want = round(total * weight / weight_sum)
        whole, rest = divmod(want, size)
        picked += [start + rng.permutation(size) for _ in range(whole)]
        picked.append(start + rng.choice(size, rest, replace=False))
    return np.concatenate(picked).astype(np.int64)


def weighted_batches(lengths: np.ndarray, sizes: Sequence[int], weights: Sequence[float], max_tokens: int,
                     seed: int, epoch: int) -> list[np.ndarray]:  # fmt: skip
    """One epoch's batches of a weighted mix: :func:`weighted_epoch`'s pairs, cut as
    :func:`~seqtool.data.batching.token_batches` cuts a corpus (``lengths``: of every pair of the mix)."""
    picked = weighted_epoch(sizes, weights, seed, epoch)
    return [picked[batch] for batch in token_batches(lengths[picked], max_tokens, seed, epoch)]
