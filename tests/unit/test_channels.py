"""What a channel looks for: the optimised image beats its start and the held-out set, the partial forward equals the
traced one, Network Dissection's IoU on a hand-built case, the disk cache computes each key once."""

import threading
import time

import numpy as np
import pytest
import torch

from resnet_viz import disk_cache
from resnet_viz.explain import channels, dissection
from resnet_viz.model import forward, weights
from resnet_viz.text import channel_readings

pytestmark = pytest.mark.usefixtures("one_thread")  # 32-64 px images and a few steps: one torch thread is faster here


@pytest.fixture(scope="module")
def shapes_handle():
    if not weights.SHAPES_CHECKPOINT.exists():
        pytest.skip("the shapes checkpoint is not in assets/shapes")
    return weights.handle_for("shapes", device="cpu")


@pytest.mark.parametrize("layer", ["layer1.1", "layer2.0", "layer3.1"])
def test_forward_to_equals_the_traced_forward(random_handle, layer):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    mask = tuple(i % 2 == 0 for i in range(8))  # layer1.0, layer2.0, ... off: both kinds of block seen
    with torch.no_grad():
        acts = channels.forward_to(random_handle.model, x, layer, mask)
        bt = forward.trace(random_handle.model, x, mask).blocks[layer]
    torch.testing.assert_close(acts["out"].relu(), bt.out)
    torch.testing.assert_close(acts["F"], bt.fx)
    has_downsample = getattr(random_handle.model, layer[:6])[int(layer[-1])].downsample is not None
    torch.testing.assert_close(acts["x"] if has_downsample else acts["x"].relu(), bt.x)


def test_optimised_image_beats_its_start_and_the_best_heldout_image(shapes_handle):
    layer, size = "layer3.1", 64
    d = dissection.dissect(shapes_handle, layer, "out", n=100, size=size)
    for channel in (0, 17, 200):
        v = channels.visualise(shapes_handle, layer, channel, "out", size=size, steps=16, snapshots=(4, 16))
        assert v.final > v.start
        assert v.final > d.best_mean[channel], (channel, v.final, d.best_mean[channel])
        assert sorted(v.snapshots) == [4, 16] and v.image.shape == (size, size, 3)
        np.testing.assert_array_equal(v.snapshots[16], v.image)


def test_visualise_leaves_the_shared_model_alone(random_handle):
    before = weights.weights_digest(random_handle.model)
    v = channels.visualise(random_handle, "layer2.1", 3, "F", (False,) * 8, size=32, steps=4)
    assert weights.weights_digest(random_handle.model) == before  # grad flags included: none was set
    assert all(p.grad is None for p in random_handle.model.parameters())
    assert forward.hooks_left(random_handle.model) == 0
    again = channels.visualise(random_handle, "layer2.1", 3, "F", (False,) * 8, size=32, steps=4)
    np.testing.assert_array_equal(v.image, again.image)  # one seed, one image


def test_links_name_the_same_tensors():
    from resnet_viz.inputs import urlstate

    assert urlstate.TARGETS == channels.TARGETS  # urlstate stays free of torch, so it keeps its own copy


def test_bad_requests_are_refused(random_handle):
    with pytest.raises(ValueError, match=r"channels 0\.\.63"):
        channels.visualise(random_handle, "layer1.0", 64, size=32, steps=1)
    with pytest.raises(ValueError, match="target"):
        dissection.dissect(random_handle, "layer1.0", "y", n=2, size=48)
    with pytest.raises(ValueError, match="block"):
        dissection.dissect(random_handle, "fc", n=2, size=48)


def test_colour_matrices():
    m = channels.colour_matrix("imagenet")
    assert np.linalg.norm(m, axis=0).max() == pytest.approx(1.0)
    assert m[0, 0] == pytest.approx(0.26 / np.sqrt(0.26**2 + 0.27**2 + 0.27**2), rel=1e-5)
    # The shapes matrix is a square root of the generator's pixel covariance (up to the max-norm scale).
    s = channels.colour_matrix("shapes")
    imgs, _ = channels.shapes.training_batch(seed=7, step=0, batch_size=64, size=64)
    cov = np.cov(imgs.reshape(-1, 3) / 255.0, rowvar=False)
    np.testing.assert_allclose(s @ s.T, cov / np.linalg.eigvalsh(cov).max(), atol=1e-5)


def test_iou_on_a_hand_built_case():
    # Two 4x4 images: image 0 is class 0 with the left half as its object, image 1 class 1 with the top half.
    concept = np.zeros((2, 4, 4), bool)
    concept[0, :, :2] = True
    concept[1, :2, :] = True
    acts = torch.zeros(2, 2, 4, 4)  # maps at the masks' size: the upsampling is the identity
    acts[0, 0, :, :2] = 1.0  # channel 0 covers image 0's object exactly ...
    acts[1, 0, :, 0] = 1.0  # ... and image 1's first column (2 of its 4 pixels in the object)
    iou = dissection.iou_table(acts, np.array([0, 1]), concept, torch.tensor([0.5, 0.5]), classes=2)
    # class 0: 8 shared / (12 unit + 8 concept - 8); class 1: 2 shared / (12 + 8 - 2); channel 1 never fires.
    np.testing.assert_allclose(iou.numpy(), [[8 / 12, 2 / 18], [0.0, 0.0]])


def test_dissection_labels_and_examples(shapes_handle):
    d = dissection.dissect(shapes_handle, "layer4.1", "out", n=60, size=64)
    assert len(d.iou) == 512 and len(d.iou[0]) == 10
    best = [max(row) for row in d.iou]
    assert d.labelled() == sum(b > dissection.IOU_LABEL for b in best) > 0
    c = int(np.argmax(best))
    ex = dissection.dataset_examples(shapes_handle, d, c)
    np.testing.assert_allclose(ex.values, d.top_value[c], rtol=1e-4, atol=1e-4)
    assert all(m.any() for m in ex.masks[:1])  # the strongest image passes the top-0.5% level
    top, left, bottom, right = ex.boxes[0]
    assert ex.masks[0][top:bottom, left:right].sum() == ex.masks[0].sum()


def test_one_computation_per_key(tmp_path):
    path, started, release, calls, results, seen = tmp_path / "k.json", threading.Event(), threading.Event(), [], [], []

    def compute(report):
        calls.append(1)
        report(0.5)
        started.set()
        release.wait(10)
        return {"v": (1, 2)}

    first = threading.Thread(target=lambda: results.append(disk_cache.computed_once(path, compute)))
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: results.append(
        disk_cache.computed_once(path, compute, progress=seen.append, poll_s=0.01)))
    second.start()
    for _ in range(1000):  # the second caller waits on the first, following its progress
        if seen:
            break
        time.sleep(0.01)
    assert disk_cache.in_flight(path) == 2 and seen[0] == 0.5
    release.set()
    first.join(10)
    second.join(10)
    assert calls == [1] and results == [{"v": [1, 2]}] * 2 and disk_cache.in_flight(path) == 0


def test_cache_hit_reads_the_disk(random_handle, monkeypatch, tmp_path):
    monkeypatch.setenv(disk_cache.ENV, str(tmp_path))
    first = dissection.cached_dissect(random_handle, "layer1.0", "x", n=4, size=48)
    vis = channels.cached_visualise(random_handle, "layer1.0", 2, "x", size=32, steps=2, snapshots=(1,))

    def boom(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(dissection, "dissect", boom)
    monkeypatch.setattr(channels, "visualise", boom)
    assert dissection.cached_dissect(random_handle, "layer1.0", "x", n=4, size=48) == first
    again = channels.cached_visualise(random_handle, "layer1.0", 2, "x", size=32, steps=2, snapshots=(1,))
    np.testing.assert_array_equal(again.image, vis.image)
    assert again.snapshots.keys() == {1} and again.final == vis.final
    with pytest.raises(AssertionError, match="computed again"):  # another mask is another key
        dissection.cached_dissect(random_handle, "layer1.0", "x", (False,) * 8, n=4, size=48)


def test_the_pages_first_view_is_shipped_and_still_true(shapes_handle, monkeypatch, tmp_path):
    """assets/channels holds the Channels page's default view for the shapes weights: read, not computed, and
    its image still drives its channel far harder than its random start did."""
    from resnet_viz.model.config import DEFAULTS

    monkeypatch.setenv(disk_cache.ENV, str(tmp_path))  # an empty cache: only the shipped file can answer
    monkeypatch.setattr(channels, "visualise", lambda *a, **k: pytest.fail("the default view was computed"))
    shipped = [p.name for p in channels.SHIPPED_DIR.glob("vis-*.json")]
    assert len(shipped) == 1
    v = channels.cached_visualise(shapes_handle, DEFAULTS.default_layer, 0, "out", None, size=DEFAULTS.channel_size,
                                  steps=DEFAULTS.channel_steps, snapshots=DEFAULTS.channel_snapshots)
    assert (v.layer, v.channel, v.target, v.size) == (DEFAULTS.default_layer, 0, "out", DEFAULTS.channel_size)
    assert v.image.shape == (DEFAULTS.channel_size, DEFAULTS.channel_size, 3) and set(v.snapshots) == {32, 128, 256}
    with torch.no_grad():
        x = (torch.from_numpy(v.image).permute(2, 0, 1)[None].float() / 255 - torch.tensor(shapes_handle.mean)
             .view(1, 3, 1, 1)) / torch.tensor(shapes_handle.std).view(1, 3, 1, 1)
        now = float(channels.objective(channels.forward_to(shapes_handle.model, x, v.layer), "out", 0))
    assert now > v.start + 0.5 * (v.final - v.start)  # the stored picture, re-measured (PNG rounding aside)


def test_two_channels_two_readings():
    dead = channel_readings.channel(0.1, 0.2, 1.0, 0.0, "ring", 0.3)
    live = channel_readings.channel(0.1, 5.0, 1.0, 0.4, "ring", 0.3)
    noise = channel_readings.channel(0.1, 0.9, 1.0, 0.4, "ring", 0.01)
    assert [k for k, _ in dead] == ["ch.read.dead"]
    assert [k for k, _ in live] == ["ch.read.drives", "ch.read.label"]
    assert [k for k, _ in noise] == ["ch.read.noise", "ch.read.no_label"]
    on = (True,) * 8
    off = (False,) * 8
    assert [k for k, _ in channel_readings.label_counts("layer3.1", 256, 50, 50, on, 0.1, 0.1)] == ["ch.read.count"]
    fewer = channel_readings.label_counts("layer3.1", 256, 50, 12, off, 0.10, 0.03)
    same = channel_readings.label_counts("layer3.1", 256, 50, 50, off, 0.10, 0.101)
    assert [k for k, _ in fewer] == ["ch.read.count_fewer", "ch.read.iou_drop"]
    assert fewer[1][1]["change"] == pytest.approx(0.07)
    assert [k for k, _ in same] == ["ch.read.count_same", "ch.read.iou_same"]


def test_cli_writes_images_and_numbers(tmp_path, monkeypatch, capsys):
    import json

    from PIL import Image

    from resnet_viz.__main__ import main

    monkeypatch.setenv(disk_cache.ENV, str(tmp_path / "cache"))
    out, numbers = tmp_path / "out", tmp_path / "c.json"
    code = main(["channel", "--layer", "layer1.1", "--channel", "3", "--target", "F", "--steps", "8", "--size", "32",
                 "--n", "10", "--mask", "01111111", "--weights", "random", "--out", str(out), "--json", str(numbers)])
    assert code == 0, capsys.readouterr().err
    got = json.loads(numbers.read_text())
    assert got["final"] > got["start"] and got["mask"] == "01111111" and len(got["examples"]) == 9
    assert Image.open(out / "layer1.1_F_c3.png").size == (32, 32)
    assert Image.open(out / "layer1.1_F_c3_examples.png").size == (9 * 64, 64)
    assert main(["channel", "--channel", "3", "--mask", "0101", "--weights", "random"]) == 2
    assert "eight 0/1 digits" in capsys.readouterr().err


def test_another_session_gets_the_model_between_steps(random_handle):
    # The handle's lock is held one step at a time: a second session's request gets the model while the
    # optimisation is still running, not after it (one computation never blocks the others for its whole run).
    started, seen = threading.Event(), []

    def progress(done):
        seen.append(done)
        started.set()

    run = threading.Thread(target=lambda: channels.visualise(random_handle, "layer4.1", 0, size=64, steps=64,
                                                             progress=progress))
    run.start()
    started.wait(60)
    with random_handle.lock:  # what ModelHandle.trace does for another session
        got = seen[-1]
    run.join(120)
    assert got < 1.0 and seen[-1] == 1.0
