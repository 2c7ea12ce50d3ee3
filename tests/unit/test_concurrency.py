"""Sessions at once on the ONE shared model: each its own mask, class and image, results equal to running alone.

Four sessions of three requests each are enough to fail: with the handle's lock made a no-op and a per-request flag
kept on the shared model, 4 x 3 (and 4 x 2) failed in every trial, as 8 x 10 did (see notes-t-fast.md)."""

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from torchvision.transforms._presets import ImageClassification

from resnet_viz.explain import featuremaps, gradcam
from resnet_viz.model.forward import hooks_left
from resnet_viz.model.layers import STAGE_NAMES
from resnet_viz.model.weights import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here

THREADS = 4
REPEATS = 3
SIZE = 32  # ResNet-18's smallest input keeps the requests cheap on a CPU; the model is the app's real ResNet-18


def _masks() -> list[tuple[bool, ...]]:
    # All on, all off, and six others that switch different blocks off.
    others = [tuple(bool((i >> k) & 1) for k in range(8)) for i in (5, 18, 77, 130, 201, 254)]
    return [(True,) * 8, (False,) * 8, *others]


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (SIZE + 8 * seed, SIZE + 4 * seed, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def handle(random_handle):
    # The same model and lock as the app's handle (dataclasses.replace shares them), fed 32 px images.
    preset = ImageClassification(crop_size=SIZE, resize_size=SIZE, mean=random_handle.mean, std=random_handle.std)
    return dataclasses.replace(random_handle, preprocess=preset, image_size=SIZE)


def _request(handle, mask, target, image) -> dict:
    """One session's page work: a traced forward, Grad-CAM at every stage for `target`, the feature maps."""
    x = handle.preprocess(image).unsqueeze(0)  # (1, 3, SIZE, SIZE)
    tr = handle.trace(x, mask)
    cam = gradcam.grad_cam(handle, x, STAGE_NAMES, target, mask)
    ft = featuremaps.compute(handle, image, mask)
    return {"logits": tr.logits.numpy().copy(),
            **{f"out:{n}": b.out.numpy().copy() for n, b in tr.blocks.items()},
            **{f"cam:{n}": m for n, m in cam.raw.items()},
            "cam_prob": np.float64(cam.prob), "cam_target": np.int64(cam.target),
            **{f"fm:{n}": m for n, m in ft.layers.items()},
            "fm_top5": np.array([p for _, _, p in ft.top5])}


def _same(a: dict, b: dict) -> list[str]:
    return [k for k in a if not np.array_equal(a[k], b[k])]


def test_sessions_at_once_match_the_sequential_run(handle):
    model = handle.model
    before = weights_digest(model)
    jobs = [(_masks()[i], 100 * i + 7, _image(i)) for i in range(THREADS)]
    expected = [_request(handle, *job) for job in jobs]  # sequential reference
    assert len({e["logits"].tobytes() for e in expected}) == THREADS  # the jobs really differ

    start = threading.Barrier(THREADS)

    def session(i: int) -> list[dict]:
        start.wait()  # all begin together
        return [_request(handle, *jobs[i]) for _ in range(REPEATS)]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(session, range(THREADS)))

    for i, runs in enumerate(results):
        assert len(runs) == REPEATS
        for r, got in enumerate(runs):
            assert not _same(expected[i], got), f"thread {i}, repeat {r}: {_same(expected[i], got)} differ"
    assert hooks_left(model) == 0
    assert weights_digest(model) == before
    assert not any(p.requires_grad for p in model.parameters())
    assert not model.training
