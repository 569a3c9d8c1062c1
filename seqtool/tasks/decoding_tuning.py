"""Beam size and length penalty tuned on dev and stored with the model (issue 12).

``tune_decoding`` decodes the dev set once per (beam, alpha) of a small grid, scores each with corpus BLEU
(sacrebleu, tokenized as :func:`model_tokenize` says: on the model's own dev references the choice its
training recorded, so tuning and per-epoch dev BLEU agree) and writes the winner to the model's
``config.json`` as the "decoding" section::

    "decoding": {"beam": 5, "length_penalty": 0.6, "dev_bleu": 38.1, "tokenize": "none",
                 "tokenize_reason": "references are already segmented (...): tok none",
                 "tuned_on": "dev.en", "grid": [{"beam": 5, "length_penalty": 0.6, "bleu": 38.1}, ...]}

``translate``, ``evaluate mt`` and the server read it through :func:`decoding_defaults` whenever a request
does not give --beam / --length-penalty itself. The length penalty is GNMT's ((5 + L) / 6) ** alpha on every
engine (seqtool.data.search.gnmt_penalty), so a tuned alpha means the same with torch and CTranslate2.

Ties go to the smaller beam, then to the alpha closest to 1.0 (the untuned default), so a flat grid changes
nothing. The module imports no torch (the engine decides).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seqtool.data.search import SearchOptions, search_options
from seqtool.errors import OptionError, check_positive, check_range
from seqtool.metrics import TokenizeChoice, bleu_only, choose_tokenize, recorded_tokenize

DEFAULT_BEAM = 5
DEFAULT_ALPHA = 1.0
# On small_parallel_enja dev, 1.4 beat 0, 0.6 and 1.0 for two Transformers (docs/benchmarks.md): the grid
# brackets it. GNMT's paper found 0.6-1.0 on WMT.
DEFAULT_ALPHAS = (0.6, 1.0, 1.4, 2.0)


def decoding_defaults(config: dict[str, Any]) -> tuple[int, float]:
    """(beam, length penalty) for a model: its tuned "decoding" section, else 5 and 1.0."""
    tuned = config.get("decoding") or {}
    beam, alpha = tuned.get("beam", DEFAULT_BEAM), tuned.get("length_penalty", DEFAULT_ALPHA)
    if not isinstance(beam, int) or beam < 1 or not isinstance(alpha, int | float) or alpha < 0:
        return DEFAULT_BEAM, DEFAULT_ALPHA  # a hand-edited section that makes no sense is ignored
    return beam, float(alpha)


def chosen_decoding(config: dict[str, Any], beam: int | None, alpha: float | None) -> tuple[int, float]:
    """The beam and length penalty a caller gave (None: not given), else the model's tuned ones, else 5 and 1.0
    (the command line and the server both decide this way)."""
    tuned_beam, tuned_alpha = decoding_defaults(config)
    if alpha is not None:
        check_range("--length-penalty", alpha, 0.0, 10.0)
    return beam or tuned_beam, tuned_alpha if alpha is None else alpha


def chosen_search(config: dict[str, Any], beam: int | None = None, alpha: float | None = None,
                  **given: Any) -> SearchOptions:  # fmt: skip
    """The whole :class:`~seqtool.data.search.SearchOptions` of a request: beam and length penalty as
    :func:`chosen_decoding` decides them, the other fields (``strategy``, ``nbest``, ``temperature``,
    ``top_k``, ``seed``, ``max_len``) as given (None: the default), validated."""
    beam, alpha = chosen_decoding(config, beam, alpha)
    return search_options(SearchOptions(beam=beam, alpha=alpha), **given)


def model_tokenize(config: dict[str, Any], references: Sequence[str], tokenize: str | None = None,
                   ref: str | Path | None = None, tgt_lang: str | None = None) -> TokenizeChoice:  # fmt: skip
    """The BLEU tokenizer for a translator's output against ``references`` (`evaluate mt`, `tune-decoding`,
    `compress`): ``tokenize`` if given (not None or "auto"); on the model's own dev references (``ref`` None
    or its dev file) and no ``tgt_lang`` given, the choice its training recorded (config "bleu_tokenize");
    else :func:`~seqtool.metrics.choose_tokenize` with ``tgt_lang`` or the model's target language."""
    explicit = tokenize is not None and tokenize != "auto"
    dev = (config.get("data") or {}).get("dev_tgt")
    if not explicit and tgt_lang is None and (ref is None or (dev and Path(ref).resolve() == Path(dev).resolve())):
        recorded = recorded_tokenize(config.get("bleu_tokenize"))
        if recorded is not None:
            return recorded
    return choose_tokenize(references, tgt_lang or config.get("tgt_lang") or None, tokenize)


def parse_beams(text: str) -> tuple[int, ...]:
    """``--beams 4,5,8`` as integers (each checked > 0 by :func:`tune_decoding`)."""
    try:
        values = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise OptionError(f"--beams must be comma-separated integers, e.g. 4,5,8; got {text!r}") from None
    return values


def parse_alphas(text: str) -> tuple[float, ...]:
    """``--alphas 0.6,1.0,1.4`` as numbers, each in [0, 10]."""
    try:
        values = tuple(float(a) for a in text.split(",") if a.strip())
    except ValueError:
        raise OptionError(f"--alphas must be comma-separated numbers, e.g. 0.6,1.0,1.4; got {text!r}") from None
    if not values or any(not 0.0 <= a <= 10.0 for a in values):
        raise OptionError(f"--alphas must be numbers in [0, 10], e.g. 0.6,1.0,1.4; got {text!r}")
    return values


def tune_decoding(
    translator: Any,
    sources: Sequence[str],
    references: Sequence[str],
    *,
    beams: Sequence[int] = (DEFAULT_BEAM,),
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    tuned_on: str | Path = "",
    tokenize: str | TokenizeChoice | None = None,
    ref: str | Path | None = None,
    progress: Callable[[dict[str, Any]], None] = lambda row: None,
) -> dict[str, Any]:
    """Decode ``sources`` with every (beam, alpha), store the best by BLEU in the model's config and return
    the "decoding" section. ``translator``: a loaded translator (seqtool.tasks.translator.load_translator);
    ``tokenize``: BLEU's tokenizer (a choice, a sacrebleu name, or None/"auto": :func:`model_tokenize`, with
    ``ref`` the references' file; None: the model's dev references)."""
    for beam in beams:
        check_positive("--beam", beam)
    if not alphas or not beams:
        raise OptionError("give at least one beam size and one length penalty to try")
    choice = tokenize if isinstance(tokenize, TokenizeChoice) else model_tokenize(translator.config, references,
                                                                                 tokenize, ref)  # fmt: skip
    grid: list[dict[str, Any]] = []
    for beam in beams:
        for alpha in alphas:
            found = translator.translate(list(sources), tokenized=True, beam=beam, alpha=alpha)
            row = {"beam": beam, "length_penalty": alpha, "bleu": round(bleu_only([t[0].text for t in found],
                                                                                 references, choice), 2)}  # fmt: skip
            grid.append(row)
            progress(row)
    best = max(grid, key=lambda r: (r["bleu"], -r["beam"], -abs(r["length_penalty"] - DEFAULT_ALPHA)))
    section = {"beam": best["beam"], "length_penalty": best["length_penalty"], "dev_bleu": best["bleu"],
               "tokenize": choice.name, "tokenize_reason": choice.reason, "tuned_on": str(tuned_on),
               "grid": grid}  # fmt: skip
    translator.md.update_config(decoding=section)
    translator.config["decoding"] = section
    return section
