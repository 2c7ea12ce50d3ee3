"""Speed and size measures behind the README's claims, side by side in one run: a table and one JSON object.

Compared variants run interleaved (A, B, C, A, B, C, ...) after a warm-up, so machine load hits them alike;
claims are ratios of medians from the same run, never absolute times checked by a test.
"""

from __future__ import annotations

import copy
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Maps equal within float32 noise; pytorch-grad-cam resizes with OpenCV, which rounds differently from torch.
CAPTUM_TOL = 1e-4
PGC_TOL = 1e-3
GOALS = {
    "trace_overhead": ("<=", 1.15),
    "gradcam_speedup_vs_captum": (">=", 3.0),
    "gradcam_vs_lower_bound": ("<=", 1.1),
    "layer1_payload_kb": ("<=", 300.0),
    "page_warm_s_max": ("<=", 0.5),
    "gradflow_init_s": ("<=", 3.0),
    "degradation_s": ("<=", 60.0),
}


@dataclass(frozen=True)
class BenchSettings:
    """How much to run. quick: a smoke run (small inputs, few repetitions, no training run)."""

    device: str = "cpu"
    quick: bool = False
    reps: int = 7
    warmup: int = 2
    image_size: int = 224
    batches: tuple[int, ...] = (1, 16)
    page_reps: int = 3
    pages: tuple[str, ...] | None = None  # None: every page in ui.nav.PAGES
    init_depth: int = 56
    init_batch: int = 64
    degradation: bool = True

    @classmethod
    def make(cls, device: str = "cpu", quick: bool = False) -> BenchSettings:
        if not quick:
            return cls(device=device)
        return cls(device=device, quick=True, reps=2, warmup=1, image_size=64, batches=(1, 2), page_reps=1,
                   pages=("pages/0_Home.py",), init_depth=8, init_batch=4, degradation=False)


@dataclass
class Timing:
    """Seconds per repetition of one variant."""

    name: str
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.min, "reps": len(self.times)}


@dataclass
class Row:
    """One line of the printed table."""

    measure: str
    variant: str
    median: str = ""
    minimum: str = ""
    ratio: str = ""
    ratio_min: str = ""
    goal: str = ""


# ---------------------------------------------------------------- timing helpers


def _sync(device: str) -> Callable[[], None]:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def interleaved(variants: dict[str, Callable[[], object]], reps: int, warmup: int, device: str = "cpu"
                ) -> dict[str, Timing]:
    """Time each variant `reps` times, taking turns (and rotating who goes first) after `warmup` rounds."""
    sync = _sync(device)
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    sync()
    out = {name: Timing(name) for name in names}
    for r in range(reps):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            variants[name]()
            sync()
            out[name].times.append(time.perf_counter() - t0)
    return out


def _ms(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.1f} s"


def _timing_rows(measure: str, timings: dict[str, Timing], base: str | None) -> list[Row]:
    rows = []
    for name, t in timings.items():
        ratio = f"{t.median / timings[base].median:.2f}x" if base and name != base else ""
        ratio_min = f"{t.min / timings[base].min:.2f}x" if base and name != base else ""
        rows.append(Row(measure, name, _ms(t.median), _ms(t.min), ratio, ratio_min))
    return rows


def machine() -> str:
    """CPU model and core count (and the GPU when one is used), for the table's header."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


# ---------------------------------------------------------------- 1. traced forward vs bare model(x)


def bench_trace(handle, s: BenchSettings) -> tuple[dict, list[Row]]:
    """Traced forward (every layer kept) vs the model's own forward, no grad, per batch size."""
    import torch

    from resnet_viz.forward import trace

    model, out, rows = handle.model, {}, []
    for b in s.batches:
        x = torch.randn(b, 3, s.image_size, s.image_size, generator=torch.Generator().manual_seed(0)).to(handle.device)
        with handle.lock, torch.no_grad():
            torch.testing.assert_close(trace(model, x).logits, model(x))  # same maths, or the ratio means nothing
            t = interleaved({"bare model(x)": lambda x=x: model(x), "trace()": lambda x=x: trace(model, x)},
                            s.reps, s.warmup, s.device)
            faults = {"bare model(x)": _minor_faults(lambda x=x: model(x)),
                      "trace()": _minor_faults(lambda x=x: trace(model, x))}
        ratio = t["trace()"].median / t["bare model(x)"].median
        ratio_min = t["trace()"].min / t["bare model(x)"].min
        out[f"batch{b}"] = {k: v.as_dict() for k, v in t.items()} | {"ratio": ratio, "ratio_min": ratio_min,
                                                                     "minor_page_faults": faults}
        rows += _timing_rows(f"1. forward {s.image_size}px batch {b}", t, "bare model(x)")
        rows += [Row(f"1. page faults/call batch {b}", k, f"{v:.0f}") for k, v in faults.items()]
    return out, rows


def _minor_faults(fn: Callable[[], object], calls: int = 3) -> float:
    """Median minor page faults per call: memory the allocator had to fetch fresh from the OS (load-independent).

    The traced forward keeps every layer alive, so its buffers cannot reuse the freed ones of the bare forward.
    """
    counts = []
    for _ in range(calls):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        fn()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return float(statistics.median(counts))


# ---------------------------------------------------------------- 2. Grad-CAM


def _normalise(raw, size: tuple[int, int]) -> np.ndarray:
    """(B, 1, h, w) raw maps -> (B, H, W) bilinear to `size`, then min-max per image (pytorch-grad-cam's scaling).

    Min-max is affine and bilinear resizing is linear, so min-max(resize(min-max(m))) = min-max(resize(m)).
    """
    from resnet_viz.gradcam import upsample

    up = upsample(raw.detach().float().cpu(), size)[:, 0].numpy()
    lo = up.min(axis=(1, 2), keepdims=True)
    up = up - lo
    return up / (1e-7 + up.max(axis=(1, 2), keepdims=True))


def _lower_bound(model, layers):
    """Forward through a hooked COPY + gradient of the score at the stage outputs only (no parameter grads)."""
    import torch

    twin = copy.deepcopy(model).eval().requires_grad_(False)
    outs: list = []
    for name in layers:
        twin.get_submodule(name).register_forward_hook(lambda m, i, o: outs.append(o))

    def run(x, idx: int):
        outs.clear()
        x = x.detach().clone().requires_grad_(True)  # so autograd records the graph (parameters are frozen)
        with torch.enable_grad():
            score = twin(x)[:, idx].sum()
            return torch.autograd.grad(score, outs)

    return run


def _flops(fn: Callable[[], object]) -> float:
    """GFLOPs of one call (forward and backward), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def _pytorch_grad_cam(model, layers):
    """Four pytorch-grad-cam GradCAM objects, one per layer, on a copy; None when the package is missing."""
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:
        return None
    # Its hooks read gradients at the layer outputs, so something upstream must require grad: as in its README,
    # the copy's parameters do (its backward then also computes parameter gradients, as it does for its users).
    twin = copy.deepcopy(model).eval().requires_grad_(True)
    cams = [GradCAM(model=twin, target_layers=[twin.get_submodule(n)]) for n in layers]

    def run(x, idx: int):
        return [c(input_tensor=x, targets=[ClassifierOutputTarget(idx)] * x.shape[0]) for c in cams]

    return run


def bench_gradcam(handle, x, s: BenchSettings) -> tuple[dict, list[Row]]:
    """One-pass four-stage Grad-CAM vs four captum LayerGradCam calls vs four pytorch-grad-cam calls vs the bound."""
    import torch
    from captum.attr import LayerGradCam

    from resnet_viz.config import STAGE_NAMES
    from resnet_viz.gradcam import cams_one_pass, grad_cam
    from resnet_viz.methods import module_copy

    model, layers, size = handle.model, list(STAGE_NAMES), tuple(x.shape[-2:])
    with handle.lock, torch.no_grad():
        idx = int(model(x).argmax(1)[0])
    twin = module_copy(model)
    captum = [LayerGradCam(twin, twin.get_submodule(n)) for n in layers]

    def one_pass():
        return cams_one_pass(model, x, layers, idx)[1]

    def four_captum():
        return [c.attribute(x, target=idx, relu_attributions=True) for c in captum]

    bound, pgc = _lower_bound(model, layers), _pytorch_grad_cam(model, layers)
    # Equality before timing: the same normalisation for every method, max |difference| over the four stages.
    with handle.lock:
        ours = {n: _normalise(m, size) for n, m in one_pass().items()}
        diffs = {"captum": max(float(np.abs(ours[n] - _normalise(a, size)).max())
                               for n, a in zip(layers, four_captum(), strict=True))}
        if pgc is not None:
            diffs["pytorch_grad_cam"] = max(float(np.abs(ours[n] - a).max())
                                            for n, a in zip(layers, pgc(x, idx), strict=True))
    flops = {"one pass": _flops(one_pass), "4x captum": _flops(four_captum),
             "lower bound": _flops(lambda: bound(x, idx))}
    if pgc is not None:
        flops["4x pytorch-grad-cam"] = _flops(lambda: pgc(x, idx))
    tol = {"captum": CAPTUM_TOL, "pytorch_grad_cam": PGC_TOL}
    equal = {k: v <= tol[k] for k, v in diffs.items()}
    variants = {"one pass (cams_one_pass)": one_pass, "4x captum LayerGradCam": four_captum,
                "lower bound (fwd + act. grad)": lambda: bound(x, idx),
                "grad_cam() (+ upsample, peaks)": lambda: grad_cam(handle, x, layers, idx)}
    if pgc is not None:
        variants["4x pytorch-grad-cam GradCAM"] = lambda: pgc(x, idx)
    with handle.lock:
        t = interleaved(variants, s.reps, s.warmup, s.device)
    ours_t = t["one pass (cams_one_pass)"].median
    out = {k: v.as_dict() for k, v in t.items()} | {
        "target": idx, "max_abs_diff": diffs, "equal": equal, "checked": True, "gflops": flops,
        "speedup_vs_captum": t["4x captum LayerGradCam"].median / ours_t,
        "vs_lower_bound": ours_t / t["lower bound (fwd + act. grad)"].median,
        "speedup_vs_captum_min": t["4x captum LayerGradCam"].min / t["one pass (cams_one_pass)"].min,
        "vs_lower_bound_min": t["one pass (cams_one_pass)"].min / t["lower bound (fwd + act. grad)"].min,
        "speedup_vs_pytorch_grad_cam": (t["4x pytorch-grad-cam GradCAM"].median / ours_t) if pgc else None,
    }
    rows = _timing_rows(f"2. Grad-CAM 4 stages {size[0]}px", t, "one pass (cams_one_pass)")
    # Counted, not timed: what the ratios would be if only arithmetic mattered (load cannot blur these).
    rows += [Row("2. GFLOP (counted)", k, f"{v:.2f}", ratio=f"{v / flops['one pass']:.2f}x") for k, v in flops.items()]
    rows += [Row("2. maps equal?", f"{k}: max |diff| {v:.1e}", ratio="yes" if equal[k] else "NO")
             for k, v in diffs.items()]
    if pgc is None:
        rows.append(Row("2. Grad-CAM", "pytorch-grad-cam", "not installed (pip install grad-cam)"))
    return out, rows


# ---------------------------------------------------------------- 3. feature-map payload


def bench_payload(handle) -> tuple[dict, list[Row]]:
    """The layer1 / layer4 tile figures exactly as pages/2_Feature_Maps.py builds them, default widgets."""
    import plotly.io as pio

    from resnet_viz import featuremaps, figures_maps, images

    sample = images.list_samples()[0].name  # the image picker's default
    ft = featuremaps.compute(handle, images.load_sample(sample))
    out, rows = {"image": sample}, []
    for layer in ("layer1", "layer4"):
        maps = ft.maps(layer)  # (C, H, W)
        side = maps.shape[1]
        shrink = featuremaps.shrink_for(side)
        tiled = featuremaps.tile(featuremaps.shrink(maps, shrink), shared=False,
                                 order=featuremaps.channel_order(maps, False),
                                 upscale=featuremaps.upscale_for(side // shrink))
        fig, png = figures_maps.feature_tiles(tiled, layer, height=640)
        sent = len(pio.to_json(fig, validate=False).encode())  # the PNG travels base64 inside the figure JSON
        out[layer] = {"png_kb": png / 1024, "figure_json_kb": sent / 1024}
        rows.append(Row("3. feature-map tiles", f"{layer}: PNG {png / 1024:.0f} KB", f"{sent / 1024:.0f} KB sent"))
    return out, rows


# ---------------------------------------------------------------- 4. pages under AppTest


def _page_list(s: BenchSettings) -> list[str]:
    if s.pages is not None:
        return list(s.pages)
    from ui.nav import PAGES  # the app's one table of pages (importing it has no side effects)

    return [p.file for p in PAGES]


def bench_pages(s: BenchSettings) -> tuple[dict, list[Row]]:
    """Each page once cold, then warm reruns (the same session, warm caches), pages taking turns."""
    from streamlit.testing.v1 import AppTest

    apps = {}
    for page in _page_list(s):
        at = AppTest.from_file(str(ROOT / page), default_timeout=600)
        at.session_state["weights_source"] = "random"
        at.session_state["device"] = s.device
        t0 = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{page} raised: {at.exception[0].value}")
        apps[page] = (at, cold)
    t = interleaved({p: (lambda at=at: at.run()) for p, (at, _) in apps.items()}, s.page_reps, 0, s.device)
    broken = [p for p, (at, _) in apps.items() if at.exception]
    if broken:  # a page that failed on its warm rerun did less work: its time would flatter it
        raise RuntimeError(f"{broken[0]} raised on a warm rerun: {apps[broken[0]][0].exception[0].value}")
    out = {p: {"cold_s": cold} | t[p].as_dict() for p, (_, cold) in apps.items()}
    rows = [Row("4. page, warm rerun", Path(p).stem, _ms(t[p].median), _ms(t[p].min),
                goal="<= 0.5 s") for p in apps]
    return out, rows


# ---------------------------------------------------------------- 5. gradient flow


def bench_gradflow(s: BenchSettings) -> tuple[dict, list[Row]]:
    """The page's Figure 1 defaults (plain and residual, depth 56, batch 64), and the default degradation run."""
    from resnet_viz import degradation, gradnorms

    t = interleaved({"init norms": lambda: gradnorms.compare_init(s.init_depth, batch_size=s.init_batch)},
                    max(1, s.reps // 2), 1, s.device)["init norms"]
    out = {"init": {"depth": s.init_depth, "batch": s.init_batch} | t.as_dict()}
    rows = [Row("5. gradient flow", f"init norms, depth {s.init_depth} x2", _ms(t.median), _ms(t.min))]
    if s.degradation:
        configs, settings = degradation.default_degradation(0)
        # One run (about a minute): never replayed from the cache, never written to it.
        result = degradation.train_stacks(configs, settings, cache=False, replay=False)
        out["degradation"] = {"seconds": result.seconds, "steps": settings.steps, "nets": list(configs)}
        rows.append(Row("5. gradient flow", f"degradation run, {settings.steps} steps x4 nets", _ms(result.seconds),
                        "1 run"))
    return out, rows


# ---------------------------------------------------------------- the whole run


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if platform.system() == "Darwin" else rss / 1024


def _goal_text(key: str, value: float | None) -> str:
    if value is None:
        return "not run"
    op, bound = GOALS[key]
    ok = value <= bound if op == "<=" else value >= bound
    return f"{op} {bound:g}: {'met' if ok else 'MISSED'}"


STEPS = ("trace", "gradcam", "payload", "pages", "gradflow")


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

    from resnet_viz import weights

    torch.set_num_threads(os.cpu_count() or 1)
    handle = weights.load("random", device=s.device)
    x = torch.randn(1, 3, s.image_size, s.image_size, generator=torch.Generator().manual_seed(0)).to(handle.device)
    steps = {"trace": lambda: bench_trace(handle, s), "gradcam": lambda: bench_gradcam(handle, x, s),
             "payload": lambda: bench_payload(handle), "pages": lambda: bench_pages(s),
             "gradflow": lambda: bench_gradflow(s)}
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
    pages = details.get("pages", {})
    result = {
        "device": str(handle.device),
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "quick": s.quick,
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
        "pytorch_grad_cam": _version("grad-cam"),
        "details": details,
    }
    result["peak_rss_mb"] = peak_rss_mb()
    rows.append(Row("6. peak RSS", "whole run", f"{result['peak_rss_mb']:.0f} MB"))
    return result, rows


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
