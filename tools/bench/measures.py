"""The five bench measures: traced forward, Grad-CAM against captum / pytorch-grad-cam / a lower bound, the
feature-map payload, pages under AppTest, and the gradient-flow experiments. Each returns (details, rows).
"""

from __future__ import annotations

import copy
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tools.bench.core import ROOT, BenchSettings, Row, interleaved, ms, timing_rows

__all__ = ["CAPTUM_TOL", "PGC_TOL", "bench_gradcam", "bench_gradflow", "bench_pages", "bench_payload", "bench_trace"]

# Maps equal within float32 noise; pytorch-grad-cam resizes with OpenCV, which rounds differently from torch.
CAPTUM_TOL = 1e-4
PGC_TOL = 1e-3


# ---------------------------------------------------------------- 1. traced forward vs bare model(x)


def bench_trace(handle, s: BenchSettings) -> tuple[dict, list[Row]]:
    """Traced forward (every layer kept) vs the model's own forward, no grad, per batch size."""
    import torch

    from resnet_viz.model.forward import trace

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
        rows += timing_rows(f"1. forward {s.image_size}px batch {b}", t, "bare model(x)")
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
    from resnet_viz.explain.gradcam import upsample

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


# The compared variants, in the order they take turns and fill the table.
ONE_PASS = "one pass (cams_one_pass)"
CAPTUM = "4x captum LayerGradCam"
BOUND = "lower bound (fwd + act. grad)"
PGC = "4x pytorch-grad-cam GradCAM"


def bench_gradcam(handle, x, s: BenchSettings) -> tuple[dict, list[Row]]:
    """One-pass four-stage Grad-CAM vs four captum LayerGradCam calls vs four pytorch-grad-cam calls vs the bound."""
    import torch

    from resnet_viz.model.layers import STAGE_NAMES

    model, layers, size = handle.model, list(STAGE_NAMES), tuple(x.shape[-2:])
    with handle.lock, torch.no_grad():
        idx = int(model(x).argmax(1)[0])
    variants = _gradcam_variants(handle, x, layers, idx)
    diffs, flops = _gradcam_checks(handle, variants, layers, size)
    equal = {k: v <= {"captum": CAPTUM_TOL, "pytorch_grad_cam": PGC_TOL}[k] for k, v in diffs.items()}
    with handle.lock:
        t = interleaved(variants, s.reps, s.warmup, s.device)
    ours, captum, bound = t[ONE_PASS], t[CAPTUM], t[BOUND]
    pgc = t.get(PGC)
    out = {k: v.as_dict() for k, v in t.items()} | {
        "target": idx, "max_abs_diff": diffs, "equal": equal, "checked": True, "gflops": flops,
        "speedup_vs_captum": captum.median / ours.median,
        "vs_lower_bound": ours.median / bound.median,
        "speedup_vs_captum_min": captum.min / ours.min,
        "vs_lower_bound_min": ours.min / bound.min,
        "speedup_vs_pytorch_grad_cam": (pgc.median / ours.median) if pgc else None,
    }
    rows = timing_rows(f"2. Grad-CAM 4 stages {size[0]}px", t, ONE_PASS)
    # Counted, not timed: what the ratios would be if only arithmetic mattered (load cannot blur these).
    rows += [Row("2. GFLOP (counted)", k, f"{v:.2f}", ratio=f"{v / flops['one pass']:.2f}x") for k, v in flops.items()]
    rows += [Row("2. maps equal?", f"{k}: max |diff| {v:.1e}", ratio="yes" if equal[k] else "NO")
             for k, v in diffs.items()]
    if pgc is None:
        rows.append(Row("2. Grad-CAM", "pytorch-grad-cam", "not installed (pip install grad-cam)"))
    return out, rows


def _gradcam_variants(handle, x, layers: list[str], idx: int) -> dict[str, Callable[[], object]]:
    """The compared ways to get four stages' Grad-CAM for class idx (pytorch-grad-cam only when installed)."""
    from captum.attr import LayerGradCam

    from resnet_viz.explain.gradcam import cams_one_pass, grad_cam
    from resnet_viz.explain.methods import module_copy

    model = handle.model
    twin = module_copy(model)
    captum = [LayerGradCam(twin, twin.get_submodule(n)) for n in layers]
    bound, pgc = _lower_bound(model, layers), _pytorch_grad_cam(model, layers)
    variants = {ONE_PASS: lambda: cams_one_pass(model, x, layers, idx)[1],
                CAPTUM: lambda: [c.attribute(x, target=idx, relu_attributions=True) for c in captum],
                BOUND: lambda: bound(x, idx),
                "grad_cam() (+ upsample, peaks)": lambda: grad_cam(handle, x, layers, idx)}
    if pgc is not None:
        variants[PGC] = lambda: pgc(x, idx)
    return variants


def _gradcam_checks(handle, variants: dict, layers: list[str], size: tuple[int, int]) -> tuple[dict, dict]:
    """Before any timing: max |map difference| against ours over the four stages, and counted GFLOPs."""
    # The same normalisation for every method.
    with handle.lock:
        ours = {n: _normalise(m, size) for n, m in variants[ONE_PASS]().items()}
        diffs = {"captum": max(float(np.abs(ours[n] - _normalise(a, size)).max())
                               for n, a in zip(layers, variants[CAPTUM](), strict=True))}
        if PGC in variants:
            diffs["pytorch_grad_cam"] = max(float(np.abs(ours[n] - a).max())
                                            for n, a in zip(layers, variants[PGC](), strict=True))
    flops = {"one pass": _flops(variants[ONE_PASS]), "4x captum": _flops(variants[CAPTUM]),
             "lower bound": _flops(variants[BOUND])}
    if PGC in variants:
        flops["4x pytorch-grad-cam"] = _flops(variants[PGC])
    return diffs, flops


# ---------------------------------------------------------------- 3. feature-map payload


def bench_payload(handle) -> tuple[dict, list[Row]]:
    """The layer1 / layer4 tile figures exactly as pages/2_Feature_Maps.py builds them, default widgets."""
    import plotly.io as pio

    from resnet_viz.explain import featuremaps, tiles
    from resnet_viz.figures import maps as figures_maps
    from resnet_viz.inputs import images

    sample = images.list_samples()[0].name  # the image picker's default
    ft = featuremaps.compute(handle, images.load_sample(sample))
    out, rows = {"image": sample}, []
    for layer in ("layer1", "layer4"):
        maps = ft.maps(layer)  # (C, H, W)
        side = maps.shape[1]
        shrink = tiles.shrink_for(side)
        tiled = tiles.tile(tiles.shrink(maps, shrink), shared=False,
                                 order=featuremaps.channel_order(maps, False),
                                 upscale=tiles.upscale_for(side // shrink))
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
    rows = [Row("4. page, warm rerun", Path(p).stem, ms(t[p].median), ms(t[p].min),
                goal="<= 0.5 s") for p in apps]
    return out, rows


# ---------------------------------------------------------------- 5. gradient flow


def bench_gradflow(s: BenchSettings) -> tuple[dict, list[Row]]:
    """The page's Figure 1 defaults (plain and residual, depth 56, batch 64), and the default degradation run."""
    from resnet_viz.experiments import degradation, gradnorms

    t = interleaved({"init norms": lambda: gradnorms.compare_init(s.init_depth, batch_size=s.init_batch)},
                    max(1, s.reps // 2), 1, s.device)["init norms"]
    out = {"init": {"depth": s.init_depth, "batch": s.init_batch} | t.as_dict()}
    rows = [Row("5. gradient flow", f"init norms, depth {s.init_depth} x2", ms(t.median), ms(t.min))]
    if s.degradation:
        configs, settings = degradation.default_degradation(0)
        # One run (about a minute): never replayed from the cache, never written to it.
        result = degradation.train_stacks(configs, settings, cache=False, replay=False)
        out["degradation"] = {"seconds": result.seconds, "steps": settings.steps, "nets": list(configs)}
        rows.append(Row("5. gradient flow", f"degradation run, {settings.steps} steps x4 nets", ms(result.seconds),
                        "1 run"))
    return out, rows
