"""Resources: 50 mixed requests in one process leak nothing (resident memory), and every cache has a bound."""

import ast
import dataclasses
import gc
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms._presets import ImageClassification

from resnet_viz.explain import featuremaps, gradcam, methods, tiles
from resnet_viz.figures import cam as figures_cam
from resnet_viz.figures import maps as figures_maps
from resnet_viz.inputs import images
from resnet_viz.model import fallback
from resnet_viz.model.forward import hooks_left
from resnet_viz.model.layers import BLOCK_NAMES, STAGE_NAMES
from resnet_viz.model.weights import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")  # 112 px single images: one torch thread is faster here

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 50
WARMUP = 5
SIZE = 112  # a quarter of 224's compute; a leaked result per request (~4 MB of maps) would still cross 10%


def rss_mb() -> float:
    """Resident set size of this process in MB, from /proc/self/statm (pages)."""
    resident = int(Path("/proc/self/statm").read_text().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / 2**20


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (240 + seed % 7 * 10, 300, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _request(handle, i: int) -> None:
    """One page's worth of work, cycling through what the pages do."""
    mask = tuple(bool((i >> k) & 1) for k in range(len(BLOCK_NAMES)))
    kind = i % 5
    if kind == 4:  # a hostile upload: the error path must not keep frames or buffers alive
        with pytest.raises(images.ImageError):
            images.load_image(_jpeg(i)[:2000])
        return
    image = images.load_image(_jpeg(i))
    x = handle.preprocess(image).unsqueeze(0)  # (1, 3, SIZE, SIZE)
    if kind == 0:
        ft = featuremaps.compute(handle, image, mask)
        tiled = tiles.tile(ft.maps("layer1.0"), order=featuremaps.channel_order(ft.maps("layer1.0"), True))
        figures_maps.feature_tiles(tiled, "layer1.0")
        figures_cam.cam_topk(ft.top5, "top-5")
    elif kind == 1:
        cam = gradcam.grad_cam(handle, x, STAGE_NAMES, i % handle.num_classes, mask)
        picture = images.denormalise(x, handle.mean, handle.std)
        figures_cam.cam_overlay_figure(picture, gradcam.for_display(cam.maps["layer4"]), 0.5,
                                       figures_cam.CAM_COLORSCALE, cam.peaks["layer4"], "layer4")
    elif kind == 2:
        tr = handle.trace(x.clone().requires_grad_(True), mask, grad=True)  # parameters never require grad
        tr.logits[0, i].backward()  # a backward on the traced graph, as the gradient pages do
    else:
        methods.other_method(handle, x, "saliency", target=i % handle.num_classes, mask=mask)


def test_fifty_mixed_requests_do_not_grow_memory(random_handle):
    torch.manual_seed(0)
    # The app's shared model and lock (dataclasses.replace shares them), fed SIZE px images.
    preset = ImageClassification(crop_size=SIZE, resize_size=SIZE, mean=random_handle.mean, std=random_handle.std)
    handle = dataclasses.replace(random_handle, preprocess=preset, image_size=SIZE)
    before = weights_digest(random_handle.model)
    for i in range(WARMUP):
        _request(handle, i)
    gc.collect()
    after_warmup = rss_mb()
    for i in range(WARMUP, REQUESTS):
        _request(handle, i)
    gc.collect()
    after_all = rss_mb()
    print(f"RSS after {WARMUP} requests: {after_warmup:.0f} MB; after {REQUESTS}: {after_all:.0f} MB "
          f"({100 * (after_all / after_warmup - 1):+.1f}%)")
    assert after_all <= 1.10 * after_warmup, f"{after_warmup:.0f} MB -> {after_all:.0f} MB"
    assert hooks_left(random_handle.model) == 0
    assert weights_digest(random_handle.model) == before
    # One private copy per model for captum, none made for the CPU fallback (no OOM here).
    assert sum(m is random_handle.model for m in list(methods._TWINS.keys())) == 1
    assert random_handle.model not in fallback._CPU_COPIES


def _decorators(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for dec in node.decorator_list:
                yield node, dec


def _name(dec: ast.expr) -> str:
    target = dec.func if isinstance(dec, ast.Call) else dec
    return ast.unparse(target)


def test_every_cache_is_bounded():
    """Streamlit caches name max_entries; functools caches have a maxsize or take no arguments."""
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")),
             *sorted((ROOT / "resnet_viz").rglob("*.py"))]
    checked = 0
    for path in files:
        for fn, dec in _decorators(path):
            name = _name(dec)
            where = f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}"
            if name.endswith(("cache_data", "cache_resource")):
                keywords = {k.arg for k in dec.keywords} if isinstance(dec, ast.Call) else set()
                assert "max_entries" in keywords, f"{where}: st cache without max_entries"
                checked += 1
            elif name.endswith("lru_cache"):
                maxsize = next((k.value for k in dec.keywords if k.arg == "maxsize"), None) \
                    if isinstance(dec, ast.Call) else None
                if isinstance(dec, ast.Call) and dec.args:
                    maxsize = dec.args[0]
                assert maxsize is not None and not (isinstance(maxsize, ast.Constant) and maxsize.value is None), \
                    f"{where}: lru_cache without a maxsize"
                checked += 1
            elif name in ("functools.cache", "cache"):
                args = fn.args
                assert not (args.args or args.posonlyargs or args.kwonlyargs or args.vararg or args.kwarg), \
                    f"{where}: functools.cache on a function with arguments grows without bound"
                checked += 1
    assert checked >= 5
