"""The analogy-expression parser: property tests over operator widths and spacing, and its errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqtool.embeddings.analogy import MINUS_SIGNS, PLUS_SIGNS, ExpressionError, parse_expression

# Words: letters of several scripts, including the katakana prolonged sound mark (コーヒー), which must
# never be taken for a minus sign.
WORD = st.text(alphabet=st.sampled_from(list("父母男女家族王妃abcXYZ語コーヒーのは")), min_size=1, max_size=6)
SPACE = st.sampled_from(["", " ", "  ", "\u3000", " \u3000 ", "\t"])


@st.composite
def expressions(draw: st.DrawFn) -> tuple[str, list[tuple[int, str]]]:
    """A rendered expression and the signed words it must parse to."""
    words = draw(st.lists(WORD, min_size=1, max_size=6))
    signs = [1] + [draw(st.sampled_from([1, -1])) for _ in words[1:]]
    text = draw(SPACE) + words[0]
    for sign, word in zip(signs[1:], words[1:], strict=True):
        operator = draw(st.sampled_from(PLUS_SIGNS if sign > 0 else MINUS_SIGNS))
        text += draw(SPACE) + operator + draw(SPACE) + word
    return text + draw(SPACE), list(zip(signs, words, strict=True))


@given(expressions())
def test_any_spacing_and_operator_width_parses_to_the_same_terms(case: tuple[str, list[tuple[int, str]]]) -> None:
    text, expected = case
    assert list(parse_expression(text).terms) == expected


@given(expressions())
def test_command_line_pieces_parse_like_the_joined_string(case: tuple[str, list[tuple[int, str]]]) -> None:
    text, _ = case
    pieces = text.split() or [text]
    assert parse_expression(pieces) == parse_expression(text)


@given(expressions())
def test_canonical_form_round_trips(case: tuple[str, list[tuple[int, str]]]) -> None:
    expr = parse_expression(case[0])
    assert parse_expression(str(expr)) == expr
    assert expr.positive == [w for s, w in case[1] if s > 0]
    assert expr.negative == [w for s, w in case[1] if s < 0]


@given(expressions(), st.sampled_from(PLUS_SIGNS + MINUS_SIGNS), SPACE)
def test_a_dangling_operator_is_an_error(case: tuple[str, list[tuple[int, str]]], operator: str, space: str) -> None:
    with pytest.raises(ExpressionError, match="dangling operator"):
        parse_expression(case[0] + space + operator + space)


@given(st.lists(WORD, min_size=1, max_size=4), st.sampled_from(MINUS_SIGNS))
def test_only_negative_terms_is_an_error(words: list[str], minus: str) -> None:
    with pytest.raises(ExpressionError, match="only negative"):
        parse_expression(" ".join(f"{minus}{w}" for w in words))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("  \u3000 ", "empty expression"),
        ("父 -", "dangling operator"),
        ("父－", "dangling operator"),
        ("父 - + 男", "two operators in a row"),
        ("父 男", "missing + or -"),
        ("- 男 - 女", "only negative"),
    ],
)
def test_errors_are_one_line_and_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)) as info:
        parse_expression(text)
    assert "\n" not in str(info.value)


def test_examples() -> None:
    assert str(parse_expression("父－男＋女")) == "父 - 男 + 女"
    assert parse_expression(["父", "-", "男", "+", "女"]).positive == ["父", "女"]
    assert parse_expression("-男 + 父").terms == ((-1, "男"), (1, "父"))  # a leading sign is allowed
    assert parse_expression("コーヒー - 紅茶").words == ["コーヒー", "紅茶"]
