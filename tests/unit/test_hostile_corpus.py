"""Every upload of the hostile corpus (tests/hostile.py) through the library's own upload paths: each refused
file names its problem, each odd but valid file loads upright. The browser tests keep three representative ones
(tests/e2e/test_hostile.py); the rest moved here, where they cost milliseconds instead of page loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_viz.inputs import images
from resnet_viz.model import weights
from resnet_viz.text import errors
from tests import hostile

IMAGE_CASES = hostile.image_cases()
CHECKPOINT_CASES = hostile.checkpoint_cases()
PWNED = Path("/tmp/resnet-viz-pwned")  # what hostile._Evil would write if a pickle ever ran


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[c.name for c in IMAGE_CASES])
def test_hostile_image(case):
    if case.expected == hostile.ACCEPT:
        img = images.load_image(case.data)
        assert (img.width, img.height) == case.size and img.mode == "RGB"
    else:
        with pytest.raises(images.ImageError) as info:
            images.load_image(case.data)
        assert case.expected in str(info.value)
        assert info.value.text("zh") and info.value.text("zh") != str(info.value)  # and says it in Chinese


@pytest.mark.parametrize("case", CHECKPOINT_CASES, ids=[c.name for c in CHECKPOINT_CASES])
def test_hostile_checkpoint(case):
    PWNED.unlink(missing_ok=True)
    with pytest.raises(errors.WeightsError) as info:
        weights.handle_for("file", device="cpu", file=case.data)
    assert case.expected in str(info.value)
    assert not PWNED.exists(), "a pickle ran code"


def test_the_valid_checkpoint_after_them_loads():
    handle = weights.handle_for("file", device="cpu", file=hostile.valid_checkpoint())
    assert handle.num_classes == 7 and handle.source == "file"
