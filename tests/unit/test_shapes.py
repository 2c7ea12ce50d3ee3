"""The shapes generator: deterministic bytes, masks that match the drawn object, the peak rule."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from resnet_viz.data import shapes


def _digest(sample: shapes.Sample) -> str:
    return hashlib.sha256(sample.image.tobytes() + np.packbits(sample.mask).tobytes()).hexdigest()


def test_same_seed_same_bytes():
    a, b = shapes.make_sample(123, 96), shapes.make_sample(123, 96)
    assert a.image.tobytes() == b.image.tobytes()
    assert np.array_equal(a.mask, b.mask) and a.label == b.label
    c = shapes.make_sample(124, 96)
    assert a.image.tobytes() != c.image.tobytes()


def test_generator_argument_equals_seed():
    assert _digest(shapes.make_sample(np.random.default_rng(5), 80)) == _digest(shapes.make_sample(5, 80))


def test_heldout_is_pinned():
    # The shipped checkpoint was trained and measured on exactly these bytes: a change here means retraining.
    first = shapes.heldout_set(1)[0]
    assert first.label == 0 and first.image.size == (128, 128) and first.image.mode == "RGB"
    assert _digest(first) == "285054d7b7354b4e86ae2e0a524d94dd511250b08c1d2d8f32f10615d008588d"


def test_heldout_is_balanced_and_differs_from_training_stream():
    labels = [s.label for s in shapes.heldout_set(30, 64)]
    assert labels == [i % len(shapes.CLASSES) for i in range(30)]
    imgs, _ = shapes.training_batch(shapes.TRAIN_SEED, 0, 2, 128)
    held = shapes.to_arrays(shapes.heldout_set(2))[0]
    assert not np.array_equal(imgs, held)
    with pytest.raises(ValueError, match="held-out"):
        shapes.training_batch(shapes.HELDOUT_SEED, 0, 1, 64)


@pytest.mark.parametrize("label", range(len(shapes.CLASSES)))
def test_mask_matches_drawn_object(label):
    for seed in range(4):
        layers = shapes.make_layers((9, seed), 96, label=label)
        sample = shapes.make_sample((9, seed), 96, label=label)
        img, m = np.asarray(sample.image), sample.mask
        assert m.dtype == bool and m.shape == (96, 96)
        # The image is the background outside the mask and the object inside it, pixel for pixel...
        assert np.array_equal(img[~m], layers.background[~m])
        assert np.array_equal(img[m], layers.foreground[m])
        # ...and the object stands out from what it covers.
        diff = np.abs(layers.foreground[m].astype(int) - layers.background[m].astype(int)).sum(-1).mean()
        assert diff > 60, (shapes.CLASSES[label], seed, diff)
        # Fixed pixel size: the area fits the radius range whatever the canvas.
        lo, hi = shapes.RADIUS_PX
        assert 0.15 * lo**2 < m.sum() < 3.2 * hi**2


def test_circle_mask_is_a_disc_and_ring_has_a_hole():
    for seed in range(5):
        m = shapes.make_sample(seed, 128, label=shapes.CLASSES.index("circle")).mask
        rows, cols = np.nonzero(m)
        h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert abs(h - w) <= 1
        assert abs(m.sum() / (h * w) - np.pi / 4) < 0.06
        ring = shapes.make_sample(seed, 128, label=shapes.CLASSES.index("ring")).mask
        rows, cols = np.nonzero(ring)
        assert not ring[(rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2]


def test_objects_keep_their_pixel_size_on_any_canvas():
    small = np.mean([shapes.make_sample((3, i), 64).mask.sum() for i in range(40)])
    large = np.mean([shapes.make_sample((3, i), 160).mask.sum() for i in range(40)])
    assert 0.7 < small / large < 1.4


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="at least"):
        shapes.make_sample(0, 32)
    with pytest.raises(ValueError, match="label"):
        shapes.make_sample(0, 64, label=len(shapes.CLASSES))


def test_sample_images_for_gallery():
    gallery = shapes.sample_images()
    assert [name for name, _, _ in gallery] == list(shapes.CLASSES)
    for _, img, mask in gallery:
        assert img.size == (128, 128) and mask.shape == (128, 128) and mask.any()


def test_point_in_mask_with_dilation():
    m = np.zeros((20, 20), bool)
    m[10, 10] = True
    assert shapes.point_in_mask(m, (10.5, 10.2))
    assert not shapes.point_in_mask(m, (10, 13))
    assert shapes.point_in_mask(m, (10, 13), dilate_px=3)
    assert not shapes.point_in_mask(m, (13, 13), dilate_px=3)  # Euclidean: sqrt(18) > 3
    assert shapes.point_in_mask(m, (12, 12), dilate_px=3)


def test_shipped_gallery_is_what_the_generator_draws(tmp_path):
    from resnet_viz.inputs import images

    entries = shapes.write_gallery(tmp_path)
    assert len(entries) == len(shapes.CLASSES)
    for entry in entries:
        assert (tmp_path / entry["file"]).read_bytes() == (images.SAMPLES_DIR / entry["file"]).read_bytes()
        mask = images.sample_mask(entry["name"])
        assert mask is not None and mask.any() and mask.shape == (shapes.HELDOUT_SIZE, shapes.HELDOUT_SIZE)
    assert images.sample_mask("cat") is None
