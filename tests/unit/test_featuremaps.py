"""featuremaps: tiling, scaling, order, stats and residual ratios on tiny hand-computed tensors;
compute() against forward.trace on the seeded random model; the tile PNG decodes to the right colours."""

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_viz import figures
from resnet_viz.explain import featuremaps as fm
from resnet_viz.explain import tiles
from resnet_viz.figures import maps as figures_maps
from resnet_viz.inputs import images
from resnet_viz.model import layers
from resnet_viz.model.forward import trace
from resnet_viz.model.layers import BLOCK_NAMES


def _maps() -> np.ndarray:
    # 5 channels of 2x3: channel c holds c*10 + 0..5, channel 3 is constant 7.
    m = np.stack([c * 10 + np.arange(6, dtype=np.float32).reshape(2, 3) for c in range(5)])
    m[3] = 7.0
    return m


def test_tile_layout_gaps_and_empty_cells():
    t = tiles.tile(_maps(), shared=False, gap=1)
    assert (t.rows, t.cols) == (2, 3)  # ceil(sqrt(5)) = 3 columns
    assert t.values.shape == (2 * 3 - 1, 3 * 4 - 1)  # rows*(h+gap)-gap, cols*(w+gap)-gap
    # Tile 0 at the top left, per-channel scale: (v - 0) / 5.
    np.testing.assert_allclose(t.values[0:2, 0:3], np.arange(6).reshape(2, 3) / 5)
    # Tile 4 is row 1, col 1: rows 3..4, cols 4..6.
    np.testing.assert_allclose(t.values[3:5, 4:7], np.arange(6).reshape(2, 3) / 5)
    assert np.isnan(t.values[2]).all() and np.isnan(t.values[:, 3]).all()  # gaps
    assert np.isnan(t.values[3:5, 8:11]).all()  # the sixth cell has no channel
    assert t.tile_at(0, 0) == 0 and t.tile_at(3, 8) is None and t.tile_at(2, 0) is None and t.tile_at(4, 6) == 4
    assert t.centres()[4] == (3.5, 5.0, 4)


def test_per_channel_and_shared_scaling_by_hand():
    m = _maps()
    per = tiles.tile(m, shared=False, gap=0, cols=5)
    np.testing.assert_allclose(per.lo, [0, 10, 20, 7, 40])
    np.testing.assert_allclose(per.hi, [5, 15, 25, 7, 45])
    np.testing.assert_allclose(per.values[:, 9:12], np.zeros((2, 3)))  # constant channel -> 0, no NaN
    shared = tiles.tile(m, shared=True, gap=0, cols=5)
    assert shared.shared and np.all(shared.lo == 0) and np.all(shared.hi == 45)
    np.testing.assert_allclose(shared.values[:, 3:6], (10 + np.arange(6).reshape(2, 3)) / 45)
    np.testing.assert_allclose(shared.values[:, 9:12], np.full((2, 3), 7 / 45))


def test_sort_by_mean_highest_first_and_tile_order():
    m = _maps()  # means: 2.5, 12.5, 22.5, 7, 42.5
    order = fm.channel_order(m, by_mean=True)
    assert order.tolist() == [4, 2, 1, 3, 0]
    assert fm.channel_order(m, by_mean=False).tolist() == [0, 1, 2, 3, 4]
    tied = np.zeros((3, 1, 1), dtype=np.float32)
    assert fm.channel_order(tied, True).tolist() == [0, 1, 2]  # ties keep channel order
    t = tiles.tile(m, shared=True, order=order, gap=0, cols=5)
    assert [t.tile_at(0, 3 * k) for k in range(5)] == [4, 2, 1, 3, 0]
    np.testing.assert_allclose(t.values[0, 0], 40 / 45)


def test_channel_stats_and_bad_channel():
    s = fm.channel_stats(_maps(), 1)
    assert s == fm.ChannelStats(min=10.0, mean=12.5, max=15.0)
    with pytest.raises(ValueError, match="channels 0 to 4"):
        fm.channel_stats(_maps(), 5)


def test_upscale_and_shrink():
    m = np.arange(4, dtype=np.float32).reshape(1, 2, 2)
    t = tiles.tile(m, upscale=2, gap=0)
    np.testing.assert_allclose(t.values, np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]) / 3)
    assert tiles.upscale_for(56) == 1 and tiles.upscale_for(7) == 4 and tiles.upscale_for(14) == 2
    assert tiles.shrink_for(112) == 2 and tiles.shrink_for(56) == 1
    big = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    np.testing.assert_allclose(tiles.shrink(big, 2)[0], [[2.5, 4.5], [10.5, 12.5]])


def test_residual_ratio_decomposition_and_difference_by_hand():
    x = np.ones((1, 2, 2), dtype=np.float32)  # ||x|| = 2
    fx = np.array([[[3, 4], [0, 0]]], dtype=np.float32)  # ||F(x)|| = 5
    on = fm.BlockMaps(x=x, fx=fx, out=np.maximum(fx + x, 0), shortcut=True)
    off = fm.BlockMaps(x=x, fx=fx, out=np.maximum(fx, 0), shortcut=False)
    assert fm.residual_ratios({"a": on, "b": off}) == {"a": 2.5, "b": 2.5}
    parts = fm.decomposition(on, 0)
    assert list(parts) == ["x", "F(x)", "F(x) + x"]
    np.testing.assert_allclose(parts["F(x) + x"], [[4, 5], [1, 1]])
    np.testing.assert_allclose(fm.decomposition(off, 0)["F(x) (shortcut off)"], fx[0])
    assert fm.common_range(list(parts.values())) == (0.0, 5.0)
    assert fm.common_range([np.array([-1.0, 3.0])], symmetric=True) == (-3.0, 3.0)
    d = fm.difference(fx, x)
    np.testing.assert_allclose(d, [[[2, 3], [-1, -1]]])
    tiled, biggest = tiles.signed_tile(d, gap=0)
    assert biggest == 3.0
    np.testing.assert_allclose(tiled.values, (d[0] + 3) / 6)  # 0 -> 0.5, the white middle of RdBu
    with pytest.raises(ValueError, match="shapes"):
        fm.difference(fx, np.ones((2, 2, 2)))


def test_layer_choices_and_stage_alias():
    names = layers.pickable()
    assert names[:4] == ["conv1", "bn1", "relu", "maxpool"] and "layer3.1" in names and names[-1] == "layer4"
    assert layers.resolve("layer2") == "layer2.1"
    with pytest.raises(ValueError, match="Unknown layer"):
        layers.resolve("fc")


def test_compute_matches_the_traced_forward(random_handle):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8))
    mask = (True, False, True, True, False, True, True, True)
    ft = fm.compute(random_handle, img, mask)
    x = images.to_tensor(img, random_handle.mean, random_handle.std)
    with torch.no_grad():
        ref = trace(random_handle.model, x, mask, inner=True)
    for name in ("conv1", "maxpool", *BLOCK_NAMES):
        np.testing.assert_allclose(ft.layers[name], ref.layers[name][0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ft.maps("layer3"), ref.layers["layer3"][0].numpy(), rtol=1e-5, atol=1e-5)
    b = ft.blocks["layer2.0"]  # projection shortcut: x is downsample's output
    np.testing.assert_allclose(b.x, ref.layers["layer2.0.downsample"][0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.fx, ref.layers["layer2.0.bn2"][0].numpy(), rtol=1e-5, atol=1e-5)
    assert ft.blocks["layer1.1"].shortcut is False and ft.blocks["layer1.0"].shortcut is True
    probs = torch.softmax(ref.logits[0], 0)
    p, i = probs.topk(5)
    assert [t[0] for t in ft.top5] == i.tolist()
    np.testing.assert_allclose([t[2] for t in ft.top5], p.numpy(), rtol=1e-5)
    assert ft.top5[0][1] == random_handle.labels[int(i[0])]
    ratio = ref.blocks["layer3.1"].fx.norm() / ref.blocks["layer3.1"].x.norm()
    assert math.isclose(fm.residual_ratios(ft.blocks)["layer3.1"], float(ratio), rel_tol=1e-4)
    # How the image was made, as a locale key and its numbers (the page words it in either language).
    assert ft.picture.shape == (224, 224, 3) and ft.preprocessing.key == "fm.prep.own"
    assert ft.preprocessing.params == {"width": img.width, "height": img.height, "short": 256, "size": 224}
    assert "cropped the central 224 × 224" in str(ft.preprocessing) and "224 × 224" in ft.preprocessing.text("zh")
    whole = fm.compute(random_handle, img, mask, center_crop=False)
    assert whole.picture.shape == (224, 336, 3) and whole.preprocessing.key == "image.prep.whole"
    assert whole.maps("layer4").shape == (512, 7, 11)


def test_tiles_png_colours_and_layer1_payload():
    t = tiles.tile(np.array([[[0.0, 1.0]], [[2.0, 2.0]]], dtype=np.float32), gap=1, cols=2)
    png = figures_maps.tiles_png(t.values, "Viridis")
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    lut = figures.lut("Viridis")
    assert rgb[0, 0].tolist() == lut[0].tolist() and rgb[0, 1].tolist() == lut[255].tolist()
    assert rgb[0, 2].tolist() == [255, 255, 255]  # the gap
    assert rgb[0, 3].tolist() == lut[0].tolist()  # constant channel -> bottom of its scale
    # layer1's 64 maps of 56x56 (noise: the worst case for PNG) stay under the 300 KB budget as sent.
    noise = np.random.default_rng(0).random((64, 56, 56), dtype=np.float32)
    fig, n = figures_maps.feature_tiles(tiles.tile(noise), "layer1")
    assert n < 300 * 1024 and len(fig.data[0].source) < 300 * 1024
