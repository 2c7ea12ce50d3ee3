"""Helpers of the Feature maps and Grad-CAM pages: readings in the sidebar's language and the weights-vs-image
warning."""

from __future__ import annotations

from resnet_viz.text import i18n, readings
from ui.picker import image_kind
from ui.text import lang


def say(found: list) -> str:
    """Readings (resnet_viz.text.readings) as one paragraph in the sidebar's language."""
    return i18n.join(found, lang())


def say_one(reading: tuple) -> str:
    return i18n.render(reading, lang())


def fit_warning(where, handle) -> None:
    """When the live weights cannot describe the chosen image (shapes weights on a photo, ImageNet weights on a
    generated shape, random weights), say so right where the prediction is shown."""
    found = readings.weights_fit(handle.source, image_kind(), handle.num_classes)
    if found:
        where.warning(say(found))
