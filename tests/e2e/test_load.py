"""The classroom load tool (tools.load.run): counts, the isolation check, the report's keys, clean shutdown.

One tiny real run is shared by the tests: the load tool's measurement (a solo walk, then 2 sessions at once, each
through the part of the lecture that can show another session's state: Grad-CAM, an upload, shortcuts off and on)
on the test session's one server, which it meets fresh together with six first visitors (tests/e2e/hall.py).
Session 1 is made to upload under session 0's image name, which the isolation check must catch. run_load's own
part (start a server, wait for it, measure, stop it by PID) runs with the measurement replaced by a probe.
No timing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import urllib.request

import pytest

from tests.e2e.hall import LECTURE, LOAD_ARGS, in_thread, lecture_hall
from tools.load import run as load
from tools.load.client import RunResult

LECTURE = list(LECTURE)


@pytest.fixture(scope="module")
def report(request, tmp_path_factory) -> dict:
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc for the server's CPU and RSS")
    return lecture_hall(request.config, tmp_path_factory).load_report


def test_counts_every_action_of_every_session(report):
    assert report["sessions"] == 2
    assert report["actions"] == 2 * len(LECTURE)
    assert list(report["per_action"]) == LECTURE
    assert all(a["n"] == 2 for a in report["per_action"].values())


def test_injected_mismatch_is_caught_and_only_there(report):
    # Session 1 uploaded under session 0's name: its pages show a name that belongs to session 0.
    assert report["errors"]["mismatches"] >= 1
    assert report["mismatch_sessions"] == [1]


def test_nothing_else_went_wrong(report):
    errors = report["errors"]
    assert (errors["exceptions"], errors["timeouts"], errors["failed"], errors["unfinished_sessions"]) == (0, 0, 0, 0)
    assert report["per_action"]["upload"]["bytes_median"] > 0


def test_report_keys_and_numbers(report):
    for key in ("sessions", "actions", "errors", "latency_p50_s", "latency_p95_s", "server_cpu_s_per_action_median",
                "cold_first_view_s", "rss_per_session_mb"):
        assert key in report
    assert 0 < report["latency_p50_s"] <= report["latency_p95_s"] <= report["latency_max_s"]
    assert report["server_cpu_s_per_action_median"] > 0
    assert report["rss_mb"]["start"] < report["rss_mb"]["warm"] <= report["rss_mb"]["peak"]


def test_run_load_measures_a_server_it_started_and_stops_it(monkeypatch):
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    seen = {}

    async def probe(base, pids, args, ready_s, warm_urls):  # in place of the measurement: what it was handed
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        seen["health"] = await asyncio.to_thread(lambda: opener.open(base + "/_stcore/health", timeout=30).status)
        seen["alive"] = [os.path.exists(f"/proc/{pid}") for pid in pids]
        seen["args"], seen["ready_s"], seen["warm_urls"] = args, ready_s, warm_urls
        return {"server_pids": pids}

    monkeypatch.setattr(load, "measure", probe)
    args = argparse.Namespace(**LOAD_ARGS)
    pids = in_thread(load.run_load, args)["server_pids"]
    assert seen["health"] == 200 and seen["alive"] == [True]  # measured a server that was up
    assert (seen["args"], seen["warm_urls"]) == (args, []) and seen["ready_s"] > 0
    for pid in pids:  # and stopped it
        assert not os.path.exists(f"/proc/{pid}")



def test_mismatch_rules():
    run = load.Run(mask_text={True: "all shortcuts on", False: "all shortcuts off"})
    mine, theirs = run.name(0, 0), run.name(1, 0)
    shown = RunResult(0.1, 10, "ok", blob=f"caption {mine}".encode(), captions=["all shortcuts off"])
    assert load.mismatch(run, 0, "upload", mine, shown) == ""
    assert mine in load.mismatch(run, 1, "upload", theirs, shown)  # session 1 sees session 0's image
    assert "not shown" in load.mismatch(run, 0, "upload", mine, RunResult(0.1, 10, "ok", blob=b"other"))
    assert load.mismatch(run, 0, "shortcuts_off", mine, shown) == ""
    assert "mask" in load.mismatch(run, 0, "shortcuts_on", mine, shown)
