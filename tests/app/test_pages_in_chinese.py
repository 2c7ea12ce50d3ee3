"""Every page runs in Chinese, and its title comes from the Chinese locale file."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.i18n import texts
from ui.nav import PAGES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", [p.file for p in PAGES if "Lecture" not in p.file])  # the lecture has its own test
def test_page_runs_in_chinese(path):
    at = AppTest.from_file(str(ROOT / path), default_timeout=300)
    at.session_state["lang"] = "zh"
    at.session_state["mask"] = (True,) * 8
    at.run()
    assert not at.exception, (path, at.exception)
    assert at.title and at.title[0].value in set(texts("zh").values()), (path, at.title[0].value if at.title else None)
