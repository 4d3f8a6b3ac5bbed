"""Article tone in GDELT's terms: percentages of positive and negative words."""

from __future__ import annotations

import pytest

from newsflow_enrich.nlp.tone import tone, vader_lexicon, words

pytestmark = pytest.mark.unit


def test_lexicon_loads_offline_with_known_valences() -> None:
    lexicon = vader_lexicon()
    assert lexicon["good"] > 0
    assert lexicon["terrible"] < 0
    # Emoticons are dropped: they would match punctuation in prose.
    assert ":)" not in lexicon


def test_counts_are_percentages_of_all_words() -> None:
    # 13 words: "good" and "great" positive, "terrible" negative, the rest not in the lexicon.
    text = "The good plan and great results met a terrible week in the city"
    result = tone(text)
    assert len(words(text)) == 13
    assert result.positive == pytest.approx(100 * 2 / 13, abs=1e-3)
    assert result.negative == pytest.approx(100 * 1 / 13, abs=1e-3)
    assert result.tone == pytest.approx(result.positive - result.negative, abs=1e-3)
    assert result.polarity == pytest.approx(result.positive + result.negative, abs=1e-3)


def test_negative_text_has_negative_tone_and_positive_text_positive() -> None:
    bad = tone("Troops were killed in a deadly attack; the disaster left families grieving.")
    good = tone("Fans celebrated a wonderful victory and praised the brilliant team.")
    assert bad.tone < 0 < good.tone
    assert bad.negative > bad.positive
    assert good.positive > good.negative


def test_neutral_and_empty_text_have_zero_tone() -> None:
    assert tone("The committee meets on Tuesday at the town hall.").polarity == 0.0
    empty = tone("  ... 123 ")
    assert (empty.tone, empty.positive, empty.negative, empty.polarity) == (0.0, 0.0, 0.0, 0.0)


def test_apostrophes_keep_one_word_whichever_mark_is_used() -> None:
    # A split "don" + "t" would inflate the word count that the percentages divide by.
    assert words("Don’t") == ["don't"]
    assert words("the children's and the children’s") == [
        "the",
        "children's",
        "and",
        "the",
        "children's",
    ]
