"""A view's state in the URL: query parameters -> checked values with defaults, and back."""

# parse() never raises: every value it cannot use falls back to its default and leaves a Note (the parameter and a
# locale reason key) for the page to show. Query values are hostile; they are never echoed in a note.

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.layers import BLOCK_NAMES
from resnet_viz.rooms import rules
from resnet_viz.text.i18n import LANGUAGES

PARAMS: tuple[str, ...] = ("page", "image", "layer", "block", "channel", "class", "mask", "lang", "step", "room",
                           "target")
# What a channel looks for: a block's input x, its branch F(x) or its output (resnet_viz.explain.channels.TARGETS).
TARGETS: tuple[str, ...] = ("x", "F", "out")
MAX_LEN = 200  # longer values are refused before any parsing
_NUMBER = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only: int() would also take '１２' or '٣'
_SLUG = re.compile(r"[A-Za-z0-9_.:\- ]{1,80}")  # sample names read like "shapes: star"
_MASK = re.compile(f"[01]{{{len(BLOCK_NAMES)}}}")

# Channels of each layer a link can name (ResNet-18): the stem has 64, then 64/128/256/512 per stage.
_STAGE_CHANNELS = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}
LAYER_CHANNELS: dict[str, int] = {
    **{n: 64 for n in ("conv1", "bn1", "relu", "maxpool")},
    **{b: _STAGE_CHANNELS[b.split(".")[0]] for b in BLOCK_NAMES},
    **_STAGE_CHANNELS,
}

# Reason keys (resnet_viz/text/locale/*.json); each takes {param}; out_of_range also {low} and {high}, bad_mask {n},
# too_long {limit}.
UNKNOWN = "family.url.unknown"
NOT_A_NUMBER = "family.url.not_a_number"
OUT_OF_RANGE = "family.url.out_of_range"
BAD_MASK = "family.url.bad_mask"
TOO_LONG = "family.url.too_long"
BAD_ROOM = "family.url.bad_room"
REASONS: tuple[str, ...] = (UNKNOWN, NOT_A_NUMBER, OUT_OF_RANGE, BAD_MASK, TOO_LONG, BAD_ROOM)


class Note(NamedTuple):
    """A refused value: which parameter, why (a locale key), and the key's other placeholders."""

    param: str
    key: str
    args: Mapping[str, int] = {}


@dataclass(frozen=True)
class UrlState:
    """One view. None means "not in the link": the page keeps its own choice (e.g. class None = top-1)."""

    page: str | None = None
    image: str | None = None
    layer: str = DEFAULTS.default_layer
    block: str = BLOCK_NAMES[0]
    channel: int = 0
    cls: int | None = None
    mask: tuple[bool, ...] = (True,) * len(BLOCK_NAMES)
    lang: str | None = None
    step: int = 0
    room: str | None = None  # a class room's code (the Join page)
    target: str = TARGETS[-1]


@dataclass
class Parsed:
    state: UrlState
    notes: list[Note] = field(default_factory=list)


def mask_to_text(mask: tuple[bool, ...]) -> str:
    return "".join("1" if m else "0" for m in mask)


def _one(value) -> str | None:
    """A query value as one string: the last of repeated keys (what st.query_params[key] gives); None if unusable."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return value if isinstance(value, str) else None


def parse(query: Mapping, pages: Collection[str] | None = None, images: Collection[str] | None = None,
          layers: Collection[str] | None = None, num_classes: int = 1000, steps: int = 8) -> Parsed:
    """Checked state from query parameters (str, or lists of str for repeated keys); unknown parameters are ignored.

    Args:
        query: e.g. dict(st.query_params) or {k: st.query_params.get_all(k)}.
        pages, images, layers: allowed names (None: pages and images any slug; layers ResNet-18's).
        num_classes: classes of the live weights (class must be in 0..num_classes-1).
        steps: lecture steps (step in 0..steps-1).
    """
    notes: list[Note] = []
    got: dict = {}
    raw = _readable(query, notes)
    layers = LAYER_CHANNELS.keys() if layers is None else layers
    for key, allowed in (("page", pages), ("image", images), ("layer", layers), ("block", BLOCK_NAMES),
                         ("lang", LANGUAGES), ("target", TARGETS)):
        _choice(raw, key, allowed, got, notes)
    layer = got.get("layer", UrlState.layer)
    _number(raw, "channel", 0, LAYER_CHANNELS.get(layer, 512) - 1, got, notes)
    _number(raw, "class", 0, max(num_classes, 1) - 1, got, notes, out="cls")
    _number(raw, "step", 0, max(steps, 1) - 1, got, notes)
    if "mask" in raw:
        if _MASK.fullmatch(raw["mask"]):
            got["mask"] = tuple(c == "1" for c in raw["mask"])
        else:
            notes.append(Note("mask", BAD_MASK, {"n": len(BLOCK_NAMES)}))
    if "room" in raw:
        try:
            got["room"] = rules.check_code(raw["room"])
        except rules.RoomError:
            notes.append(Note("room", BAD_ROOM))
    return Parsed(UrlState(**got), notes)


def _readable(query: Mapping, notes: list[Note]) -> dict[str, str]:
    """Known parameters as one stripped string each; an unusable or over-long value becomes a note instead."""
    raw: dict[str, str] = {}
    for key, value in list(query.items()):
        if key not in PARAMS:
            continue
        text = _one(value)
        if text is None:
            notes.append(Note(key, UNKNOWN))
        elif len(text) > MAX_LEN:
            notes.append(Note(key, TOO_LONG, {"limit": MAX_LEN}))
        else:
            raw[key] = text.strip()
    return raw


def _choice(raw: dict[str, str], key: str, allowed: Collection[str] | None, got: dict, notes: list[Note]) -> None:
    """got[key] = raw[key] when it is one of `allowed` (None: any slug), else a note."""
    if key not in raw:
        return
    v = raw[key]
    ok = v in allowed if allowed is not None else bool(_SLUG.fullmatch(v))
    if ok:
        got[key] = v
    else:
        notes.append(Note(key, UNKNOWN))


def _number(raw: dict[str, str], key: str, low: int, high: int, got: dict, notes: list[Note],
            out: str | None = None) -> None:
    """got[out or key] = int(raw[key]) when it is ASCII digits within low..high, else a note."""
    if key not in raw:
        return
    v = raw[key]
    if not _NUMBER.fullmatch(v):
        notes.append(Note(key, NOT_A_NUMBER))
        return
    n = int(v)
    if low <= n <= high:
        got[out or key] = n
    else:
        notes.append(Note(key, OUT_OF_RANGE, {"low": low, "high": high}))


def to_query(state: UrlState, keep_defaults: bool = False) -> dict[str, str]:
    """Query parameters for a state; values equal to the defaults are left out (short links) unless asked."""
    default = asdict(UrlState())
    out: dict[str, str] = {}
    for name, value in asdict(state).items():
        if value is None or (value == default[name] and not keep_defaults):
            continue
        key = "class" if name == "cls" else name
        out[key] = mask_to_text(value) if name == "mask" else str(value)
    return out

