"""Helpers of the Feature maps and Grad-CAM pages: readings in the sidebar's language, the weights-vs-image
warning, and figure objects cached per content key (building a plotly figure costs more than drawing it)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from resnet_viz import i18n, readings
from ui.cache import ByteLRU
from ui.images import image_kind
from ui.text import lang

# Figures are shared by every session and never changed after they are built (st.plotly_chart only reads them).
# Counted, not sized: ~256 figures of at most a few hundred KB each.
FIGURES = ByteLRU(256, sizeof=lambda _: 1)


def figure(key: Hashable, build: Callable[[], object]):
    """The figure for `key` (which must name everything it shows: weights digest, image, mask, layer, …, and
    the language), built once."""
    return FIGURES.get((*key, lang()) if isinstance(key, tuple) else (key, lang()), build)


def say(found: list) -> str:
    """Readings (resnet_viz.readings) as one paragraph in the sidebar's language."""
    return i18n.join(found, lang())


def say_one(reading: tuple) -> str:
    return i18n.render(reading, lang())


def fit_warning(where, handle) -> None:
    """When the live weights cannot describe the chosen image (shapes weights on a photo, ImageNet weights on a
    generated shape, random weights), say so right where the prediction is shown."""
    found = readings.weights_fit(handle.source, image_kind(), handle.num_classes)
    if found:
        where.warning(say(found))
