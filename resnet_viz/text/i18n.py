"""The app's texts in English and Simplified Chinese: locale/<lang>.json, flat "page.item" keys, and `t()`.

A key missing from a language falls back to English, then to the key itself, so a gap shows up as text
on the page rather than as a crash; tests/unit/test_i18n.py keeps both files complete.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT_LANG = "en"


@functools.lru_cache(maxsize=len(LANGUAGES))
def texts(lang: str) -> dict[str, str]:
    """Every key -> text of one language (read once per process)."""
    if lang not in LANGUAGES:
        raise ValueError(f"Unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}.")
    return json.loads((LOCALE_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def t(key: str, lang: str = DEFAULT_LANG, **kwargs) -> str:
    """The text for `key` in `lang`, with {placeholders} filled from kwargs."""
    text = texts(lang).get(key)
    if text is None:
        text = texts(DEFAULT_LANG).get(key, key)
    return text.format(**kwargs) if kwargs else text


def _is_reading(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict)


def _param(value, lang: str):
    """A reading's param as shown: a nested reading rendered, a list of names joined the language's way
    (layer2.0, layer3.0 / layer2.0、layer3.0)."""
    if _is_reading(value):
        return render(value, lang)
    if isinstance(value, list):
        return t("read.list_sep", lang).join(str(_param(v, lang)) for v in value)
    return value


def render(reading: tuple[str, dict], lang: str = DEFAULT_LANG) -> str:
    """A reading (locale key, params) from resnet_viz.text.readings or .paper as text; a param that is itself a
    reading is rendered first, a list is joined with the language's list separator."""
    key, params = reading
    return t(key, lang, **{k: _param(v, lang) for k, v in params.items()})


def join(readings: list[tuple[str, dict]], lang: str = DEFAULT_LANG) -> str:
    """Several readings as one paragraph (Chinese puts no space between sentences)."""
    return ("" if lang == "zh" else " ").join(render(r, lang) for r in readings)


# ---- the Chinese scan ---------------------------------------------------------------------------------------
# English that may stay on a Chinese page: names of layers, models, data sets, methods, file formats and
# libraries, the authors of cited papers, units and symbols. Everything else in Latin letters is a leak.
ALLOWED_WORDS = frozenset({
    # layers and operations as print(model) names them, and the maths on the slides
    "conv", "conv1", "conv2", "bn1", "bn2", "fc", "relu", "ReLU", "downsample", "avgpool", "maxpool", "identity",
    "BN", "BatchNorm", "floor", "ln", "logit", "softmax", "std", "max", "min", "out", "in", "padding", "kernel",
    "stride", "print", "model", "x", "F", "H", "L", "W", "d", "n", "k", "p", "s", "P", "C", "A", "B", "ρ",
    "zero_init_residual", "state", "dict", "He",
    "conv3", "conv2_x", "conv3_x", "conv4_x", "conv5_x",  # a Bottleneck's third conv; He et al.'s Table 1 stages
    # models, data sets, weights
    "ResNet", "ResNets", "ResNet-18", "ResNet-34", "ImageNet", "CIFAR-10", "CIFAR", "IMAGENET1K_V1", "VGG",
    "torchvision", "torch", "hub", "captum", "resnet-viz", "Top-1", "Top-5", "top-1", "top-5",
    "acc@1",
    # methods and optimisers
    "Grad-CAM", "Guided", "Backpropagation", "Integrated", "Gradients", "Occlusion", "Saliency", "SGD", "Adam",
    "Spearman",
    # colour maps keep their names (plotly's, the same in every language)
    "Viridis", "Inferno", "Jet", "Greys", "RdBu",
    # cited authors and venues
    "Veit", "Adebayo", "Petsiuk", "Sundararajan", "Balduzzi", "Yang", "Selvaraju", "Luo", "ICLR", "ICML", "CVPR",
    "NeurIPS",
    # file formats and units
    "PNG", "JPEG", "WebP", "BMP", "GIF", "TIFF", "HEIC", "zip", "base64", "pth", "KB", "MB", "GB", "ms", "px",
    "CPU", "GPU", "cuda", "mps", "cpu", "auto", "HTML", "PDF", "SVG", "ZIP", "HEIF", "AVIF", "RGB", "kB",
    "SHA-256", "data.pkl",
    # the software and number names a refusal has to name
    "PyTorch", "Python", "pickle", "state_dict", "model.state_dict", "NaN", "Inf",
})
# Layer and network names with numbers: layer3.1, layer4.0.conv2, layer2.0.downsample.0, plain-56, residual-20.
_NAME = re.compile(r"^(layer\d(\.\d+)*(\.(conv|bn)\d|\.downsample(\.\d)?)?|(plain|residual|ResNet|resnet)-\d+"
                   r"|[A-Za-z]\d*)$")
_SKIP = re.compile(r"`[^`]*`|《[^》]*》|\{[^{}]*\}|https?://\S+|\$\S+|~/\S*|assets/\S*|[\w.-]+\.(?:pth|json|jpg|png)\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_@]*(?:[.\-][A-Za-z0-9_@]+)*")


def english_words(text: str, extra: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Latin-letter words in `text` outside ALLOWED_WORDS (plus `extra`, e.g. the live weights' class names)
    and layer/network names: what a Chinese page must not show. Code spans, 《titles》, {placeholders}, paths
    and file names are skipped."""
    bare = _SKIP.sub(" ", text)
    return [w for w in _WORD.findall(bare) if w not in ALLOWED_WORDS and w not in extra and not _NAME.match(w)]
