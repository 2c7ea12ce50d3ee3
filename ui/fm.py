"""The weights-vs-image warning of the Feature maps and Grad-CAM pages."""

from __future__ import annotations

from resnet_viz.text import readings
from ui.picker import image_kind
from ui.text import say


def fit_warning(where, handle) -> None:
    """When the live weights cannot describe the chosen image (shapes weights on a photo, ImageNet weights on a
    generated shape, random weights), say so right where the prediction is shown."""
    found = readings.weights_fit(handle.source, image_kind(), handle.num_classes)
    if found:
        where.warning(say(found))
