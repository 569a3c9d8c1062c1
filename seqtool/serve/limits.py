"""Request limits (options of `seqtool serve`, documented in the README) and the API's error type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one request may ask for. Over a limit the answer is 413 with a JSON error naming it."""

    max_chars: int = 1000  # characters per sentence (translate, predict-next, generate prompts, BLEU lines)
    max_sentences: int = 64  # sentences per translate request; lines per BLEU request is 100x this
    max_body_bytes: int = 1_000_000  # request body size
    max_beam: int = 16
    max_top: int = 100  # neighbours, analogy answers, next-word candidates
    max_words: int = 200  # generate: tokens per sample
    max_samples: int = 10  # generate: samples per request

    def check_text(self, text: str, what: str = "sentence") -> None:
        if len(text) > self.max_chars:
            raise ApiError(
                413, f"{what} of {len(text):,} characters is over the limit of {self.max_chars:,} (--max-chars)"
            )


class ApiError(Exception):
    """An error answer: HTTP ``status`` and a one-line message, sent as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
