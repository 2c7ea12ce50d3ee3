"""Speed and size measures behind the README's claims, side by side in one run: a table and one JSON object."""

# Compared variants run interleaved (A, B, C, A, B, C, ...) after a warm-up, so machine load hits them alike;
# claims are ratios of medians from the same run, never absolute times checked by a test.

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tools.bench.channels import bench_channels
from tools.bench.core import BenchSettings, Row, machine, peak_rss_mb
from tools.bench.measures import bench_gradcam, bench_gradflow, bench_pages, bench_payload, bench_trace

__all__ = ["GOALS", "STEPS", "add_bench", "run", "table"]

GOALS = {
    "trace_overhead": ("<=", 1.15),
    "gradcam_speedup_vs_captum": (">=", 3.0),
    "gradcam_vs_lower_bound": ("<=", 1.1),
    "layer1_payload_kb": ("<=", 300.0),
    "page_warm_s_max": ("<=", 0.5),
    "gradflow_init_s": ("<=", 3.0),
    "degradation_s": ("<=", 60.0),
    "channel_vis_s": ("<=", 10.0),
    "channel_labels_s": ("<=", 30.0),
}


# ---------------------------------------------------------------- the whole run


def _goal_text(key: str, value: float | None) -> str:
    if value is None:
        return "not run"
    op, bound = GOALS[key]
    ok = value <= bound if op == "<=" else value >= bound
    return f"{op} {bound:g}: {'met' if ok else 'MISSED'}"


STEPS = ("trace", "gradcam", "payload", "pages", "gradflow", "channels")


def _get(d: dict, *path):
    """d[path[0]][path[1]]..., or None where a measure was skipped or failed."""
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def run(s: BenchSettings, log: Callable[[str], None] = print, only: tuple[str, ...] = STEPS
        ) -> tuple[dict, list[Row]]:
    """The measures in `only`, in order; returns the JSON object and the table rows.

    A measure that fails is reported (row and details["errors"]) and the others still run: one broken page
    must not cost the whole, slow, run.
    """
    import torch

    from resnet_viz.model import weights

    torch.set_num_threads(os.cpu_count() or 1)
    handle = weights.handle_for("random", device=s.device)
    x = torch.randn(1, 3, s.image_size, s.image_size, generator=torch.Generator().manual_seed(0)).to(handle.device)
    steps = {"trace": lambda: bench_trace(handle, s), "gradcam": lambda: bench_gradcam(handle, x, s),
             "payload": lambda: bench_payload(handle), "pages": lambda: bench_pages(s),
             "gradflow": lambda: bench_gradflow(s), "channels": lambda: bench_channels(s)}
    rows: list[Row] = []
    details: dict = {"errors": {}}
    for name in only:
        t0 = time.perf_counter()
        try:
            details[name], new = steps[name]()
        except Exception as exc:  # reported in the table and the JSON, never swallowed
            details["errors"][name] = f"{type(exc).__name__}: {exc}"
            new = [Row(name, f"FAILED: {type(exc).__name__}: {exc}"[:120])]
        log(f"... {name} measured in {time.perf_counter() - t0:.1f} s")
        rows += new
    result = {"device": str(handle.device), "machine": machine(), "torch_threads": torch.get_num_threads(),
              "quick": s.quick, **_headline(details, s), "pytorch_grad_cam": _version("grad-cam"), "details": details}
    result["peak_rss_mb"] = peak_rss_mb()
    rows.append(Row("6. peak RSS", "whole run", f"{result['peak_rss_mb']:.0f} MB"))
    return result, rows


def _headline(details: dict, s: BenchSettings) -> dict:
    """The JSON object's top-level numbers, read out of each measure's details (None where one did not run)."""
    pages = details.get("pages", {})
    return {
        "trace_overhead": _get(details, "trace", f"batch{s.batches[0]}", "ratio"),
        "trace_overhead_batch16": _get(details, "trace", "batch16", "ratio"),
        "gradcam_speedup_vs_captum": _get(details, "gradcam", "speedup_vs_captum"),
        "gradcam_vs_lower_bound": _get(details, "gradcam", "vs_lower_bound"),
        "gradcam_speedup_vs_pytorch_grad_cam": _get(details, "gradcam", "speedup_vs_pytorch_grad_cam"),
        # The same ratios from each variant's fastest run: less blurred by other processes on a busy machine.
        "trace_overhead_min": _get(details, "trace", f"batch{s.batches[0]}", "ratio_min"),
        "gradcam_speedup_vs_captum_min": _get(details, "gradcam", "speedup_vs_captum_min"),
        "gradcam_vs_lower_bound_min": _get(details, "gradcam", "vs_lower_bound_min"),
        "gradcam_gflops": _get(details, "gradcam", "gflops"),
        "gradcam_max_abs_diff": _get(details, "gradcam", "max_abs_diff"),
        "gradcam_maps_equal": _get(details, "gradcam", "equal"),
        "layer1_payload_kb": _get(details, "payload", "layer1", "figure_json_kb"),
        "layer1_png_kb": _get(details, "payload", "layer1", "png_kb"),
        "layer4_payload_kb": _get(details, "payload", "layer4", "figure_json_kb"),
        "page_warm_s_max": max(v["median_s"] for v in pages.values()) if pages else None,
        "gradflow_init_s": _get(details, "gradflow", "init", "median_s"),
        "degradation_s": _get(details, "gradflow", "degradation", "seconds"),
        "channel_vis_s": _get(details, "channels", "vis_s_max"),
        "channel_labels_s": _get(details, "channels", "dissect_s_max"),
    }


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def table(result: dict, rows: list[Row]) -> str:
    """The printed report: machine header, every row, then the goals."""
    import torch

    lines = [f"resnet-viz bench on {result['device']} | {result['machine']} | torch {torch.__version__}, "
             f"{result['torch_threads']} threads" + (" | QUICK (smoke run, small inputs)" if result["quick"] else "")]
    w = (30, 36, 12, 12, 9, 12)
    lines.append(f"{'measure':<{w[0]}}{'variant':<{w[1]}}{'median':>{w[2]}}{'min':>{w[3]}}{'ratio':>{w[4]}}"
                 f"{'ratio(min)':>{w[5]}}  goal")
    lines.append("-" * (sum(w) + 12))
    for r in rows:
        lines.append(f"{r.measure:<{w[0]}}{r.variant:<{w[1]}}{r.median:>{w[2]}}{r.minimum:>{w[3]}}{r.ratio:>{w[4]}}"
                     f"{r.ratio_min:>{w[5]}}  {r.goal}")
    lines.append("")
    lines.append("goals (ratios of medians from this run; 'ratio(min)' compares the fastest runs):")
    for key in GOALS:
        value = result[key]
        shown = "null" if value is None else f"{value:.3g}"
        lines.append(f"  {key:<28}{shown:>10}   {_goal_text(key, value)}")
    for name, err in result["details"]["errors"].items():
        lines.append(f"  {name} FAILED: {err}")
    if result["pytorch_grad_cam"] is None:
        lines.append("  pytorch-grad-cam: not installed, so its row is missing (pip install grad-cam)")
    return "\n".join(lines)


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure every speed goal side by side (table + JSON); ratios, not timed tests")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--json", default="", metavar="FILE", help="also write the results as one JSON object")
    p.add_argument("--quick", action="store_true", help="smoke run: small inputs, few repetitions, no training run")
    p.add_argument("--only", default="", help="comma-separated measures to run: "
                   + ",".join(STEPS))
    p.set_defaults(func=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA GPU here", file=sys.stderr)
        return 2
    only = tuple(m for m in args.only.split(",") if m) or STEPS
    unknown = set(only) - set(STEPS)
    if unknown:
        print(f"error: unknown measure {sorted(unknown)[0]!r}; choose from {', '.join(STEPS)}", file=sys.stderr)
        return 2
    result, rows = run(BenchSettings.make(args.device, args.quick),
                             log=lambda m: print(m, file=sys.stderr, flush=True), only=only)
    print(table(result, rows))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if result["details"]["errors"] else 0
