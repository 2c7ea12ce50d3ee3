"""The classroom load tool (resnet_viz.load): counts, the isolation check, the report's keys, clean shutdown.

One tiny real run (a real `streamlit run` on a loopback port; a solo walk, then 2 sessions at once, each through
the part of the lecture that can show another session's state: Grad-CAM, an upload, shortcuts off and on) is shared
by the tests; session 1 is made to upload under session 0's image name, which the isolation check must catch.
No timing is asserted.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from resnet_viz import load
from resnet_viz.load_client import RunResult

LECTURE = ["open", "grad_cam", "upload_mode", "upload", "shortcuts_off", "shortcuts_on"]


@pytest.fixture(scope="module")
def report() -> dict:
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc for the server's CPU and RSS")
    args = argparse.Namespace(sessions=2, rounds=1, solo_rounds=1, think_s=0.0, duration_limit=300.0,
                              server_arg=[], replicas=1, inject_mismatch=True, gc_freeze=0,
                              only=LECTURE[1:])
    # On a thread of its own: the e2e tests' browser (playwright's sync API) keeps an event loop running on this
    # thread for the whole pytest session, and run_load starts its own with asyncio.run.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(load.run_load, args).result()


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


def test_server_stopped(report):
    for pid in report["server_pids"]:
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
