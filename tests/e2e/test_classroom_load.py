"""The load tool's classroom scenario (tools.load.classroom), small, on the test session's one server: six phones
answer (two change), the store and the presenter's chart equal their last taps, every phone sees the reveal, and a
student's tab replaying the presenter's widget ids changes nothing. No timing is asserted."""

from __future__ import annotations

import asyncio
import os

from tests.e2e.hall import in_thread
from tools.load import run as load
from tools.load.classroom import chart_counts, classroom, plan


def test_a_small_class_loses_and_doubles_nothing(hall):
    report = in_thread(asyncio.run, classroom(hall.url, hall.pids, 6, dict(os.environ), load._strings()))
    assert report["errors"] == {"total": 0, "examples": []}
    want = [0, 0, 0]
    for taps in plan(6, 0):
        want[taps[-1]] += 1
    assert report["expected"] == report["stored"] == report["chart"] == want
    assert report["lost"] == report["double_counted"] == 0
    assert report["reveal_seen"] == 6 and report["tap"]["n"] == 8  # every third student changed the answer
    # A student's tab replayed the presenter's widget ids, got a presenter view of its own, and changed nothing.
    assert report["spy_reached_a_presenter_view"] and report["spy_changed_nothing"]


def test_the_chart_is_read_from_the_figure_sent():
    blob = b'..."x":["A","B","C"],"y":[3, 0,12],...{"y":[1,2,3]}'
    assert chart_counts(blob) == (1, 2, 3)  # the last chart sent is the one on screen
    assert chart_counts(b"no chart") is None
