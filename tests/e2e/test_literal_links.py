"""User text in a real browser: an uploaded image's file name (the picker's caption, and the error when it is
refused), the class search text (a warning) and a checkpoint's key name (an error) show as text. Streamlit's
Markdown turns www.…, http(s)://… and a@b.c into links even after every character is escaped, so this needs the
browser: each must render with no <a> element, its words still readable.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from tests import hostile
from tests.e2e.conftest import assert_no_error, checkpoint_uploader, main, settle, sidebar, upload

pytestmark = pytest.mark.e2e

CAT = Path(__file__).resolve().parents[2] / "assets" / "samples" / "cat.jpg"

# Every form of link GFM knows: a Markdown link, a bare URL, www.…, an e-mail address.
HOSTILE = "[x](https://evil.example/a) www.evil.example a@evil.example"


def _no_links(locator, words: tuple[str, ...] = ("evil.example", "a@")) -> str:
    """The element's text, after checking it holds no link and still shows the hostile words."""
    assert locator.locator("a").count() == 0, locator.inner_html()
    text = locator.inner_text().replace("\u2060", "")  # the word joiners are invisible
    assert all(w in text for w in words), text
    return text


def test_an_image_name_shows_as_text(server, page):
    page.goto(f"{server}/Lecture")
    settle(page, "Upload", sidebar(page))
    sidebar(page).get_by_text("Upload", exact=True).click()
    settle(page, "Upload an image", sidebar(page))
    uploader = sidebar(page).locator('[data-testid="stFileUploader"]').filter(has_text="Upload an image")

    upload(uploader, f"{HOSTILE}.txt", b"not an image")  # refused: the error names the file
    settle(page, "The previous image is still in use", sidebar(page))
    alert = sidebar(page).locator('[data-testid="stAlert"]').filter(has_text="The previous image is still in use")
    _no_links(alert.last)

    upload(uploader, f"{HOSTILE}.jpg", CAT.read_bytes())
    caption = sidebar(page).locator('[data-testid="stImageCaption"]').filter(has_text="evil").first
    settle(page, "evil", caption)  # (while the page redraws, the previous image's caption may still be there)
    _no_links(caption)
    assert_no_error(page)


def test_a_class_search_shows_as_text(server, page):
    page.goto(f"{server}/Grad_CAM")
    settle(page, "Search a class")
    page.get_by_label("Search a class").fill(HOSTILE)
    page.get_by_label("Search a class").press("Enter")
    settle(page, "No class name contains", main(page))
    _no_links(main(page).locator('[data-testid="stAlert"]').filter(has_text="No class name contains").first)
    assert_no_error(page)


def _checkpoint_with_key(key: str) -> bytes:
    state = torch.load(io.BytesIO(hostile.valid_checkpoint()), weights_only=True)
    state[key] = torch.zeros(1)
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def test_a_checkpoint_key_shows_as_text(server, page):
    uploader = checkpoint_uploader(page, server)
    upload(uploader, "keys.pth", _checkpoint_with_key(HOSTILE))
    settle(page, "unexpected key", sidebar(page))
    _no_links(sidebar(page).locator('[data-testid="stAlert"]').filter(has_text="unexpected key").last)
    assert_no_error(page)
