"""A conversation title as plain text: what a model wrote for one, cleaned, or the first words of the
user's message. No Markdown marks, HTML, quotes, "Title:" labels or control characters; never a
sentence cut off mid-way (a title the model was cut off in is shortened to its first complete
phrase, or not used)."""

from __future__ import annotations

import re
import unicodedata

DEFAULT_TITLE = "New conversation"
MAX_TITLE_CHARS = 60
MAX_TITLE_WORDS = 10
FALLBACK_WORDS = 6

_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.IGNORECASE | re.DOTALL)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&nbsp;": " "}
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LABEL = re.compile(r"^(?:(?:suggested|conversation|chat)\s+)?(?:title|subject|topic)(?:\s*:|\s+[-\u2013\u2014])\s*",
                    re.IGNORECASE)
_LINE_MARKS = re.compile(r"^(?:#{1,6}\s*|>\s*|[-*+•]\s+|\d{1,3}[.)]\s+)+")
_INLINE_MARKS = re.compile(r"(\*\*|__|~~|\*|`+)")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)_(\S(?:.*?\S)?)_(?!\w)")
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u201a\u2039\u203a\u300c\u300d\u300e\u300f"
_EDGE = _QUOTES + " \t*_#~.,;:-\u2013\u2014|=" + "\u3000"
_SEPARATORS = (": ", " - ", " \u2013 ", " \u2014 ", "; ", ", ", " (")
# Words a phrase does not end on: a cut there leaves a fragment ("Tips for the").
_DANGLING = frozenset("""a an the and or but nor of to for with without in on at by from into onto about as
than that which who whose whom vs versus via per over under between after before while if when your my our
their its his her this these those is are was were be""".split())


def _plain_characters(text: str) -> str:
    """Drop control and format characters (keeping the joiner inside emoji sequences), tabs to spaces."""
    out = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\n\t":
            out.append(char if char == "\n" else " ")
        elif category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char != "\u200d"):
            continue
        else:
            out.append(char)
    return "".join(out)


def _plain_line(line: str) -> str:
    """One line without Markdown marks, a "Title:" label or surrounding quotes."""
    line = _IMAGE_OR_LINK.sub(r"\1", line)
    for _ in range(2):  # "**Title:** x" and "Title: **x**"
        line = _LINE_MARKS.sub("", line.strip())
        line = _INLINE_MARKS.sub("", line)
        line = _UNDERSCORE_EMPHASIS.sub(r"\1", line)
        line = _LABEL.sub("", line.strip(_QUOTES + " "))
        line = line.strip(_EDGE)
    line = " ".join(line.split())
    return line.strip(_EDGE).rstrip("!?") + _kept_end(line)


def _kept_end(line: str) -> str:
    """A title may end with its question or exclamation mark (one)."""
    stripped = line.strip(_EDGE)
    head = stripped.rstrip("!?")
    return stripped[len(head)] if head and len(head) < len(stripped) else ""


def _has_words(text: str) -> bool:
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def _drop_dangling(words: list[str]) -> list[str]:
    while words and (words[-1].lower().strip(",;:") in _DANGLING or not _has_words(words[-1])):
        words = words[:-1]
    return words


def _first_phrase(title: str) -> str:
    """The title up to its first separator (a colon, a dash, a comma), when that is a phrase that fits."""
    for separator in _SEPARATORS:
        head = title.split(separator, 1)[0].strip(_EDGE)
        if head != title and 2 <= len(head.split()) <= MAX_TITLE_WORDS and len(head) <= MAX_TITLE_CHARS:
            if _drop_dangling(head.split()) == head.split():
                return head
    return ""


def clean_title(raw: str, *, cut_off: bool = False) -> str:
    """The model's title as plain text, or "" when nothing usable is in it. ``cut_off``: the model hit
    its output limit, so the last line of ``raw`` may end mid-sentence."""
    text = _THINKING.sub("", raw or "")
    text = _TAG.sub(" ", _SCRIPT.sub(" ", _ANSI.sub("", text)))
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    lines = _plain_characters(text).split("\n")
    candidates = [(index, _plain_line(line)) for index, line in enumerate(lines)]
    found = next(((index, line) for index, line in candidates if _has_words(line)), None)
    if found is None:
        return ""
    index, title = found
    last_line = all(not line.strip() for line in lines[index + 1:])
    too_long = len(title) > MAX_TITLE_CHARS or len(title.split()) > MAX_TITLE_WORDS
    dangling = title.split()[-1].lower().strip(",;:") in _DANGLING  # "Tips for the": a fragment
    if (cut_off and last_line) or too_long or dangling:
        return _first_phrase(title)
    return title


def fallback_title(user_text: str, words: int = FALLBACK_WORDS) -> str:
    """The first words of the user's message (its first line with words in it), marked "…" when
    cut; the default title when it has no words (an emoji, only an attachment)."""
    text = _TAG.sub(" ", _SCRIPT.sub(" ", _ANSI.sub("", user_text or "")))
    for line in _plain_characters(text).split("\n"):
        plain = _plain_line(line)
        if not _has_words(plain):
            continue
        all_words = plain.split()
        picked = all_words[:words]
        if len(all_words) <= words and len(plain) <= MAX_TITLE_CHARS:
            return plain
        picked = _drop_dangling(picked) or picked
        title = " ".join(picked)
        if len(title) > MAX_TITLE_CHARS:
            title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] if " " in title[:MAX_TITLE_CHARS] \
                else title[:MAX_TITLE_CHARS]
        return title.rstrip(_EDGE) + "…"
    return DEFAULT_TITLE
