"""The class search of the Grad-CAM page: any text -> a class index, label matches, or a reason key.

Never raises, whatever the text: `str.isdigit` accepts '²' and int() then fails, and int() of a 5,000-digit
number fails too, so numbers are recognised here with an explicit pattern and a length cap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["MAX_QUERY", "ClassQuery", "parse"]

MAX_QUERY = 200  # characters; longer text is refused (no class name is anywhere near that long)
MAX_MATCHES = 20
_NUMBER = re.compile(r"[+-]?[0-9]{1,12}")  # int() of this is instant; longer digit strings are never classes
_DIGITS = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class ClassQuery:
    """What a search text asks for. `reason` is "" or a locale key (with `args`) saying why nothing matched."""

    text: str  # the search text after normalisation (NFKC: fullwidth ８ -> 8), stripped
    index: int | None = None  # a class index typed as a number, when it exists
    matches: list[tuple[int, str]] = field(default_factory=list)  # (index, label), best first
    reason: str = ""
    args: dict = field(default_factory=dict)

    @property
    def choices(self) -> list[int]:
        """Class indices to offer, best first, without repeats."""
        first = [] if self.index is None else [self.index]
        return list(dict.fromkeys(first + [i for i, _ in self.matches]))


def parse(query: str, labels: Sequence[str]) -> ClassQuery:
    """Read a class search text: a class index (ASCII, fullwidth or other Unicode digits, after NFKC), and/or
    class names containing the text (case-insensitive, exact and prefix matches first)."""
    text = unicodedata.normalize("NFKC", query if isinstance(query, str) else "").strip()
    if not text:
        return ClassQuery(text)
    if len(text) > MAX_QUERY:
        return ClassQuery(text[:MAX_QUERY], reason="ui.class.too_long", args={"n": MAX_QUERY})
    index = None
    number = _NUMBER.fullmatch(text)
    last = len(labels) - 1
    if number is not None:
        value = int(number.group())
        if 0 <= value <= last:
            index = value
    q = text.casefold()
    hits = [(i, name) for i, name in enumerate(labels) if q in name.casefold()]
    hits.sort(key=lambda h: (h[1].casefold() != q, not h[1].casefold().startswith(q), h[0]))
    hits = hits[:MAX_MATCHES]
    if index is not None:
        return ClassQuery(text, index, [(index, labels[index]), *[h for h in hits if h[0] != index]])
    if hits:
        return ClassQuery(text, None, hits)
    if _DIGITS.fullmatch(text):  # a number, but no class has it (negative, too big, or thousands of digits)
        return ClassQuery(text, reason="ui.class.out_of_range", args={"query": text, "last": last})
    return ClassQuery(text, reason="ui.class.no_match", args={"query": text})
