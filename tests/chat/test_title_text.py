"""Titles are plain text: adversarial model outputs are cleaned, or replaced by the user's first words."""

from __future__ import annotations

import pytest

from agentcreator.chat.title_text import DEFAULT_TITLE, MAX_TITLE_CHARS, clean_title, fallback_title


@pytest.mark.parametrize(("raw", "expected"), [
    ("Weekend hiking plans", "Weekend hiking plans"),
    ("**Weekend Hiking Plans**", "Weekend Hiking Plans"),
    ("*Weekend* __hiking__ ~~plans~~", "Weekend hiking plans"),
    ("# Weekend hiking plans", "Weekend hiking plans"),
    ("### **Weekend hiking plans**", "Weekend hiking plans"),
    ("`Weekend hiking plans`", "Weekend hiking plans"),
    ("- Weekend hiking plans", "Weekend hiking plans"),
    ("1. Weekend hiking plans", "Weekend hiking plans"),
    ("> Weekend hiking plans", "Weekend hiking plans"),
    ("[Weekend hiking](https://example.com) plans", "Weekend hiking plans"),
    ('"Weekend hiking plans"', "Weekend hiking plans"),
    ("'Weekend hiking plans'", "Weekend hiking plans"),
    ("“Weekend hiking plans.”", "Weekend hiking plans"),
    ("«Weekend hiking plans»", "Weekend hiking plans"),
    ("Title: Weekend hiking plans", "Weekend hiking plans"),
    ("title:weekend hiking plans", "weekend hiking plans"),
    ("**Title:** Weekend hiking plans", "Weekend hiking plans"),
    ('Title: "Weekend hiking plans"', "Weekend hiking plans"),
    ("Suggested title - Weekend hiking plans", "Weekend hiking plans"),
    ("Title:\nWeekend hiking plans", "Weekend hiking plans"),
    ("\n\n  Weekend hiking plans  \nThis title captures the topic.", "Weekend hiking plans"),
    ("<b>Weekend</b> hiking <i>plans</i>", "Weekend hiking plans"),
    ("<h1>Weekend hiking plans</h1><script>alert(1)</script>", "Weekend hiking plans"),
    ("Tom &amp; Jerry recap", "Tom & Jerry recap"),
    ("Week\x00end\x07 hiking\x1b[31m plans\u200b\u202e", "Weekend hiking plans"),
    ("Weekend\thiking\tplans", "Weekend hiking plans"),
    ("<think>The user wants a title.</think>Weekend hiking plans", "Weekend hiking plans"),
    ("What is 2+2?", "What is 2+2?"),
    ("What is 2+2?!!", "What is 2+2?"),
    ("Weekend hiking plans 🥾", "Weekend hiking plans 🥾"),
    ("👨\u200d👩\u200d👧 Family trip", "👨\u200d👩\u200d👧 Family trip"),
    ("Topic-modelling basics", "Topic-modelling basics"),
    ("snake_case names in Python", "snake_case names in Python"),
])
def test_model_titles_become_plain_text(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "   ", "\n\n", "🎉🎉🎉", "***", "---", '""', "Title:", "<br/>", "\x00\x01\x02", "?!", "<think>only thoughts",
])
def test_nothing_usable_is_empty(raw: str) -> None:
    assert clean_title(raw) == ""


def test_a_title_cut_off_by_the_output_limit_is_never_a_fragment() -> None:
    # cut off mid-sentence: the first complete phrase, or nothing
    assert clean_title("Trip ideas: packing lists for the", cut_off=True) == "Trip ideas"
    assert clean_title("Planning a weekend hike in the", cut_off=True) == ""
    # a complete first line is kept even though a later line was cut off
    assert clean_title("Weekend hiking plans\nThis title sums up the conver", cut_off=True) == "Weekend hiking plans"


def test_a_title_ending_on_a_dangling_word_is_a_fragment() -> None:
    assert clean_title("Planning a weekend hike in the") == ""
    assert clean_title("Tips and tricks for") == ""


def test_a_very_long_title_is_shortened_to_a_phrase_or_dropped() -> None:
    long_sentence = ("Understanding the differences between Python lists and tuples in modern software "
                     "development practices today")
    assert clean_title(long_sentence) == ""
    assert clean_title("Python lists vs tuples: " + long_sentence) == "Python lists vs tuples"
    assert clean_title("x" * 500) == ""
    for raw in ("Python lists vs tuples: " + long_sentence, "a " * 400):
        assert len(clean_title(raw)) <= MAX_TITLE_CHARS


def test_the_fallback_is_the_first_words_of_the_message() -> None:
    assert fallback_title("2+2?") == "2+2?"
    assert fallback_title("Plan a hike") == "Plan a hike"
    assert fallback_title("What should I pack for a two day hike in the Alps?") == "What should I pack…"
    assert fallback_title("**Help** me with my essay about the French revolution") == "Help me with my essay…"
    assert fallback_title("\n\n# Packing list\nfor the Alps") == "Packing list"
    assert fallback_title("<img src=x onerror=alert(1)>Packing\x00 list") == "Packing list"


@pytest.mark.parametrize("text", ["", "   ", "🎉", "🎉 🎉 🎉", "\x00\x1b[0m", "<br>"])
def test_a_message_without_words_gets_the_default_title(text: str) -> None:
    assert fallback_title(text) == DEFAULT_TITLE


def test_a_fallback_from_one_huge_word_fits() -> None:
    title = fallback_title("y" * 5000)
    assert len(title) <= MAX_TITLE_CHARS + 1 and title.endswith("…")
