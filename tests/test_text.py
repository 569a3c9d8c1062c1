from hypothesis import given
from hypothesis import strategies as st

from seqtool.data.text import join_japanese, normalize_english


def test_raw_english_becomes_corpus_convention():
    assert normalize_english("I can't swim.") == "i can 't swim ."
    assert normalize_english("It's 1,000 yen, isn't it?") == "it 's 1,000 yen , isn 't it ?"
    assert normalize_english("My father's car is old-fashioned!") == "my father 's car is old-fashioned !"
    assert normalize_english("I\u2019ll come at 5 o'clock.") == "i 'll come at 5 o 'clock ."


def test_corpus_lines_are_unchanged():
    for line in ["i can 't tell who will arrive first .", "it 's 3.5 km .", "let 's go !"]:
        assert normalize_english(line) == line


@given(st.text())
def test_normalizer_is_idempotent_and_total(text):
    once = normalize_english(text)
    assert normalize_english(once) == once
    assert "\n" not in once and once == once.strip()


def test_japanese_spacing_removed_for_display():
    assert join_japanese("私 は 泳げ な い 。") == "私は泳げない。"
    assert join_japanese("10 cm の 紙") == "10 cmの紙"
