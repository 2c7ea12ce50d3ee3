"""`python -m tools bench --quick`: the JSON has every key, the Grad-CAM maps were checked equal before timing.

No timing is asserted: speed claims are ratios printed by the bench, never timed tests.
"""

import dataclasses
import json
import math

from tools.__main__ import main
from tools.bench import core as bench_core

NUMBERS = ("trace_overhead", "gradcam_speedup_vs_captum", "gradcam_vs_lower_bound", "layer1_payload_kb",
           "page_warm_s_max", "gradflow_init_s", "peak_rss_mb", "trace_overhead_min", "gradcam_speedup_vs_captum_min",
           "gradcam_vs_lower_bound_min", "channel_vis_s", "channel_labels_s")


def test_quick_bench_writes_every_key_and_checks_the_maps(tmp_path, capsys, monkeypatch):
    # --quick's settings with one timed round and no warm-up: the keys, the checks and the counts do not depend on
    # how often a variant is timed.
    quick = bench_core.BenchSettings.make
    monkeypatch.setattr(bench_core.BenchSettings, "make", classmethod(
        lambda cls, device="cpu", quick_run=False: dataclasses.replace(quick(device, quick_run), reps=1, warmup=0)))
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["quick"] is True
    for key in NUMBERS:
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert result["degradation_s"] is None  # --quick skips the training run
    # The equality checks ran before any timing, and the one-pass maps match captum's LayerGradCam.
    assert result["details"]["gradcam"]["checked"] is True
    assert result["gradcam_maps_equal"]["captum"] is True
    assert result["gradcam_max_abs_diff"]["captum"] < 1e-4
    # Counted, not timed: one pass does exactly the lower bound's arithmetic, and captum's four calls more than 3x.
    flops = result["gradcam_gflops"]
    assert flops["one pass"] == flops["lower bound"] and flops["4x captum"] > 3 * flops["one pass"]
    if result["pytorch_grad_cam"] is not None:
        assert result["gradcam_maps_equal"]["pytorch_grad_cam"] is True
    else:
        assert result["gradcam_speedup_vs_pytorch_grad_cam"] is None
    # The payload is the page's own layer1 figure: its PNG travels base64 inside the figure JSON.
    assert result["layer1_png_kb"] < result["layer1_payload_kb"]
    table = capsys.readouterr().out
    assert "cores" in table and "trace_overhead" in table and "maps equal?" in table
