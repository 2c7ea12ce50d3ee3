"""Hostile uploads through the real upload path (browser -> Streamlit -> the picker / the weights uploader): three
representative files. Every other file of the corpus goes through the same library calls in
tests/unit/test_hostile_corpus.py.

- bomb.png: a decompression bomb is refused with a clear message, the previous image stays, the next valid one works;
- rotated.jpg: an odd but valid photo is taken upright (the picker's caption gives the size of the image every page
  computes on);
- evil.pth: a checkpoint whose pickle would run code is refused (and runs nothing); a valid one is then taken.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests import hostile
from tests.e2e.conftest import assert_no_error, checkpoint_uploader, settle, shot, sidebar, upload

pytestmark = pytest.mark.e2e

CASES = {c.name: c for c in hostile.image_cases()}
PWNED = Path("/tmp/resnet-viz-pwned")  # what hostile._Evil would write if a pickle ever ran


def _valid_jpeg() -> bytes:
    img = Image.new("RGB", (160, 120), (200, 60, 40))
    img.paste((250, 250, 250), (40, 30, 120, 90))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _in_use(page) -> str:
    """The picker's caption under the image in use: its name and upright size (what every page computes on)."""
    return sidebar(page).locator('[data-testid="stImageCaption"]').first.inner_text()


def test_hostile_images(server, page):
    """The picker on "Upload" (on the Lecture, whose first step does not depend on the image: the picker is the
    same on every page): refused, then accepted upright, then a valid photo."""
    page.goto(f"{server}/Lecture")
    settle(page, "Upload", sidebar(page))
    before = _in_use(page)
    sidebar(page).get_by_text("Upload", exact=True).click()
    settle(page, "Upload an image", sidebar(page))
    uploader = sidebar(page).locator('[data-testid="stFileUploader"]').filter(has_text="Upload an image")

    bomb = CASES["bomb.png"]
    upload(uploader, bomb.name, bomb.data)
    settle(page, f"{bomb.name}: ", sidebar(page))
    alert = sidebar(page).locator('[data-testid="stAlert"]').filter(has_text=f"{bomb.name}: ").last.inner_text()
    assert bomb.expected in alert and alert.endswith("The previous image is still in use."), alert
    assert _in_use(page) == before  # and it is
    assert_no_error(page)
    shot(page, "hostile_bomb")

    rotated = CASES["rotated.jpg"]
    w, h = rotated.size
    upload(uploader, rotated.name, rotated.data)
    settle(page, f"{rotated.name} ({w}×{h})", sidebar(page))
    assert _in_use(page) == f"{rotated.name} ({w}×{h})"  # upright: 64 wide, 96 high
    assert sidebar(page).get_by_text("The previous image is still in use").count() == 0
    assert_no_error(page)

    upload(uploader, "valid.jpg", _valid_jpeg())
    settle(page, "valid.jpg (160×120)", sidebar(page))
    assert _in_use(page) == "valid.jpg (160×120)"
    assert_no_error(page)


def test_hostile_checkpoint(server, page):
    """Home with the weights source on "file": a code-running pickle is refused, a valid checkpoint is taken."""
    PWNED.unlink(missing_ok=True)
    uploader = checkpoint_uploader(page, server)
    evil = hostile.EVIL
    upload(uploader, evil.name, evil.data)
    settle(page, evil.expected, sidebar(page))
    alert = sidebar(page).locator('[data-testid="stAlert"]').filter(has_text=evil.expected).last.inner_text()
    assert alert.endswith("— using auto instead."), alert
    assert "Live: Synthetic shapes" in sidebar(page).inner_text()
    assert not PWNED.exists(), "a pickle ran code on the server"
    assert_no_error(page)

    upload(uploader, "resnet18_7_classes.pth", hostile.valid_checkpoint())
    settle(page, "your checkpoint, 7 classes", sidebar(page))
    assert "Live: Your own .pth checkpoint on cpu" in sidebar(page).inner_text()
    assert sidebar(page).locator('[data-testid="stAlert"]').filter(has_text="using auto instead").count() == 0
    assert_no_error(page)
