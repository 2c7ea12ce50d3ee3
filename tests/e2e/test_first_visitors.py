"""A freshly started server with no network and no cached ImageNet weights, opened by six visitors at the same moment
(a lecturer shows the link), plus the load tool's solo student:

- every visitor gets the page it opened (three by deep link) with app.py's sidebar, and none an exception or a
  traceback (six script runs importing the library at once on a fresh process once handed one a half-initialised
  module);
- the page comes up on the shapes weights and names them; the ImageNet probe does not hold it up, and its state is
  reported under "Why not the others?";
- a visitor of the home page first gets the light view (ui.first_view: Home and the language, "loading the model")
  while the library loads, and then the full app by itself; a deep link waits for its page.

The visitors speak Streamlit's own websocket protocol (tests/e2e/hall.py): the race is the server's, and six
Chromium tabs cost this machine more CPU than the server they test. What only a browser shows (the page renders
offline, with no exception box) is checked in Chromium by tests/e2e/test_pages.py on the same server.
No time is asserted (benchmarks hold the time goals: `python -m tools load`).
"""

from resnet_viz.model.weights import SOURCE_TABLE
from resnet_viz.text import i18n
from tests.e2e.hall import FIRST_PATHS

LIVE = i18n.t("side.live", "en", weights=i18n.t(SOURCE_TABLE["shapes"].desc_key, "en"), device="cpu")
IMAGENET = f"**{i18n.t(SOURCE_TABLE['imagenet'].desc_key, 'en')}**: "
# Running in the background, or given up (no answer from the black hole): either way it says so.
PROBE_STATES = ("downloading it in the background", "No answer from", "Could not download")


def test_six_first_visitors_offline_all_get_the_page(hall):
    visits = hall.first_visitors
    assert [v.path for v in visits] == list(FIRST_PATHS)
    for v in visits:
        r = v.result
        assert (r.status, r.exceptions) == ("ok", []), (v.path, r.status, r.exceptions)
        assert b"Traceback" not in r.blob and b"ImportError" not in r.blob, v.path
        assert v.landed == v.path.lower(), (v.path, v.landed)  # the page it opened, not the home page
        assert LIVE.encode() in r.blob, v.path  # app.py's sidebar ran, and says which weights are live
        if v.path == "":  # Home needs no model: drawn at once, then the full app when the library is loaded
            assert r.first_view_s is not None and r.first_view_s < r.latency_s, (r.first_view_s, r.latency_s)
        imagenet = [c for c in r.captions if c.startswith(IMAGENET)]
        assert len(imagenet) == 1 and any(s in imagenet[0] for s in PROBE_STATES), (v.path, r.captions)
