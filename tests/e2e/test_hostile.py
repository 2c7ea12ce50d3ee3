"""Hostile uploads through the real upload path: each gets a clear message on the page, and the next valid upload works.

One browser tab on Feature maps serves every case (a fresh tab per case would cost a page load each); the cases
run in order and each one is followed by a valid upload, so a broken state would show up at once.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e import hostile
from tests.e2e.conftest import assert_no_error, shot

pytestmark = pytest.mark.e2e

IMAGE_CASES = hostile.image_cases()
CHECKPOINT_CASES = hostile.checkpoint_cases()
PWNED = Path("/tmp/resnet-viz-pwned")  # what hostile._Evil would write if a pickle ever ran


def _valid_images() -> list[tuple[str, bytes]]:
    # Two valid photos taken in turn, so every "next valid upload" is a change the picker must take.
    out = []
    for i, colour in enumerate(((200, 60, 40), (40, 90, 200))):
        img = Image.new("RGB", (160, 120), colour)
        img.paste((250, 250, 250), (40, 30, 120, 90))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        out.append((f"valid_{i}.jpg", buf.getvalue()))
    return out


VALID = _valid_images()


def settled(page, scope, text: str, timeout_ms: int = 90_000) -> None:
    """`text` shows in `scope` and the run that drew it has finished (no fixed sleeps)."""
    from playwright.sync_api import expect

    expect(scope).to_contain_text(text, timeout=timeout_ms)
    expect(page.locator('[data-testid="stApp"]')).to_have_attribute("data-test-script-state", "notRunning",
                                                                     timeout=timeout_ms)


def _upload(uploader, name: str, data: bytes) -> None:
    uploader.locator('input[type="file"]').set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": data})


@pytest.fixture(scope="module")
def tab(server, browser):
    """Feature maps with the picker on "Upload"."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/Feature_Maps")
    sidebar = page.locator('[data-testid="stSidebar"]')
    settled(page, sidebar, "Upload")  # the first visit after start loads the model
    sidebar.get_by_text("Upload", exact=True).click()
    settled(page, sidebar, "Upload an image")
    yield page
    context.close()


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _image_uploader(page):
    return _sidebar(page).locator('[data-testid="stFileUploader"]').filter(has_text="Upload an image")


def _valid_upload_works(page, i: int) -> None:
    name, data = VALID[i % 2]
    _upload(_image_uploader(page), name, data)
    settled(page, _sidebar(page), f"{name} (160×120)")
    assert _sidebar(page).get_by_text("The previous image is still in use").count() == 0
    settled(page, page.locator('[data-testid="stMain"]'), "Resized the 160 × 120 image")
    assert_no_error(page)


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[c.name for c in IMAGE_CASES])
def test_hostile_image(tab, case):
    page, sidebar = tab, _sidebar(tab)
    _upload(_image_uploader(page), case.name, case.data)
    if case.expected == hostile.ACCEPT:
        w, h = case.size
        settled(page, sidebar, f"{case.name} ({w}×{h})")
        settled(page, page.locator('[data-testid="stMain"]'), f"Resized the {w} × {h} image")
    else:
        settled(page, sidebar, f"{case.name}: ")
        alert = sidebar.locator('[data-testid="stAlert"]').filter(has_text=f"{case.name}: ").last.inner_text()
        assert case.expected in alert and alert.endswith("The previous image is still in use."), alert
        assert page.locator('[data-testid="stMetric"]').count() >= 3  # the page still shows the last image's maps
    assert_no_error(page)
    if case.name in ("bomb.png", "rotated.jpg", "empty.jpg"):
        shot(page, f"hostile_{case.id}")
    _valid_upload_works(page, IMAGE_CASES.index(case))


def _choose_weights(page, option: str) -> None:
    box = _sidebar(page).locator('[data-testid="stSelectbox"]').filter(has_text="Weights")
    box.click()
    page.get_by_role("option").filter(has_text=option).first.click()


@pytest.fixture(scope="module")
def file_weights(server, browser):
    """Home (the lightest page: the sidebar alone loads the weights) with the weights source on "file"."""
    PWNED.unlink(missing_ok=True)
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(server)
    settled(page, _sidebar(page), "Live: ")
    _choose_weights(page, "Your own .pth checkpoint")
    settled(page, _sidebar(page), "ResNet-18 checkpoint")
    yield page
    context.close()


@pytest.mark.parametrize("case", CHECKPOINT_CASES, ids=[c.name for c in CHECKPOINT_CASES])
def test_hostile_checkpoint(file_weights, case):
    page, sidebar = file_weights, _sidebar(file_weights)
    uploader = sidebar.locator('[data-testid="stFileUploader"]').filter(has_text="ResNet-18 checkpoint")
    _upload(uploader, case.name, case.data)
    settled(page, sidebar, case.expected)
    alert = sidebar.locator('[data-testid="stAlert"]').filter(has_text=case.expected).last.inner_text()
    assert alert.endswith("— using auto instead."), alert
    assert "Live: Synthetic shapes" in sidebar.inner_text() or "Live: Random" in sidebar.inner_text()
    assert_no_error(page)
    assert not PWNED.exists(), "a pickle ran code on the server"
    # The next, valid checkpoint is taken: 7 classes named "class 0".."class 6".
    _upload(uploader, "resnet18_7_classes.pth", hostile.valid_checkpoint())
    settled(page, sidebar, "your checkpoint, 7 classes")
    assert "Live: Your own .pth checkpoint on cpu" in sidebar.inner_text()
    assert sidebar.locator('[data-testid="stAlert"]').filter(has_text="using auto instead").count() == 0
    assert_no_error(page)
