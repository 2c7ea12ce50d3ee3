"""Class names and numbers: the search text of the Grad-CAM page -> a class index, label matches or a reason key;
a CLI target -> one class; logits -> the top k."""

# `parse` never raises, whatever the text: `str.isdigit` accepts '²' and int() then fails, and int() of a
# 5,000-digit number fails too, so numbers are recognised here with an explicit pattern and a length cap.

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from resnet_viz.text.errors import AttributionError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["MAX_QUERY", "ClassQuery", "find_labels", "parse", "resolve_target", "top_k"]

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
    hits = find_labels(labels, text)
    if index is not None:
        return ClassQuery(text, index, [(index, labels[index]), *[h for h in hits if h[0] != index]])
    if hits:
        return ClassQuery(text, None, hits)
    if _DIGITS.fullmatch(text):  # a number, but no class has it (negative, too big, or thousands of digits)
        return ClassQuery(text, reason="ui.class.out_of_range", args={"query": text, "last": last})
    return ClassQuery(text, reason="ui.class.no_match", args={"query": text})


def find_labels(labels: Sequence[str], query: str, limit: int = MAX_MATCHES) -> list[tuple[int, str]]:
    """Classes whose name contains `query` (after NFKC, case-folded), exact then prefix matches first."""
    q = unicodedata.normalize("NFKC", query).strip().casefold()
    if not q:
        return []
    hits = [(i, name) for i, name in enumerate(labels) if q in name.casefold()]
    hits.sort(key=lambda h: (h[1].casefold() != q, not h[1].casefold().startswith(q), h[0]))
    return hits[:limit]


_TOP = ("", "auto", "top1", "top-1")


def resolve_target(target: int | str | None, labels: Sequence[str], logits: Tensor | None = None) -> int:
    """None or "auto" -> the top-1 class of `logits`; an int or digits -> that index; a name -> its index.

    Raises AttributionError (a ValueError) when nothing, or more than one class, fits."""
    if target is None or (isinstance(target, str) and target.strip().casefold() in _TOP):
        if logits is None:
            raise AttributionError("The top-1 class needs the model's output.")
        return int(logits.reshape(-1, logits.shape[-1])[0].argmax())
    if isinstance(target, str):
        text = unicodedata.normalize("NFKC", target).strip()
        if _DIGITS.fullmatch(text):
            target = int(text) if _NUMBER.fullmatch(text) else len(labels)  # thousands of digits: out of range
    if not isinstance(target, str):
        if not 0 <= int(target) < len(labels):
            raise AttributionError(f"Class index {target} is out of range: this model has {len(labels)} classes "
                                   f"(0..{len(labels) - 1}).")
        return int(target)
    hits = find_labels(labels, target)
    if not hits:
        raise AttributionError(f"No class name contains {target!r}.")
    if hits[0][1].casefold() != unicodedata.normalize("NFKC", target).strip().casefold() and len(hits) > 1:
        names = ", ".join(n for _, n in hits[:5])
        raise AttributionError(f"{target!r} matches several classes ({names}...); type the full name or an index.")
    return hits[0][0]


def top_k(logits: Tensor, labels: Sequence[str], k: int = 5) -> list[tuple[int, str, float]]:
    """(index, label, probability) of the k most probable classes of the first image."""
    probs = logits.detach().float().reshape(-1, logits.shape[-1])[0].softmax(-1)
    p, i = probs.topk(min(k, probs.numel()))
    return [(int(j), labels[int(j)], float(q)) for q, j in zip(p, i, strict=True)]
