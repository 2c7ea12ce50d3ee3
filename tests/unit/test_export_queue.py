"""One figure export renders at a time; a caller that cannot get the renderer in time gets ExportBusy:
three simultaneous "Download all figures" clicks no longer start three Chromium sessions."""

import threading

import pytest

from resnet_viz.figures import export


@pytest.fixture
def fake_renderer(monkeypatch):
    state = {"now": 0, "most": 0, "calls": 0}
    lock = threading.Lock()
    release = threading.Event()

    def render(figs, width, height):
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["most"] = max(state["most"], state["now"])
        release.wait(5)
        with lock:
            state["now"] -= 1
        return b"zip"

    monkeypatch.setattr(export, "renderer", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(export, "_render_zip", render)
    return state, release


def test_three_simultaneous_exports_render_one_at_a_time(fake_renderer):
    state, release = fake_renderer
    out = []
    threads = [threading.Thread(target=lambda: out.append(export.figures_zip({"a": None}))) for _ in range(3)]
    for th in threads:
        th.start()
    release.set()
    for th in threads:
        th.join()
    assert out == [b"zip"] * 3 and state["calls"] == 3 and state["most"] == 1
    assert not export.busy()


def test_a_caller_that_waits_too_long_gets_busy(fake_renderer):
    state, release = fake_renderer
    first = threading.Thread(target=export.figures_zip, args=({"a": None},))
    first.start()
    while not export.busy():
        threading.Event().wait(0.01)
    with pytest.raises(export.ExportBusy) as info:
        export.figures_zip({"b": None}, wait=0.05)
    assert info.value.reason_key == "ui.export.busy"
    release.set()
    first.join()
    assert state["calls"] == 1 and not export.busy()
