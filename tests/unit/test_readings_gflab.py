"""Readings of the Shortcut Lab and Gradient flow additions: unraveled paths, the plain/residual twins' lesion,
the identity/branch gradient split (two results in, two readings out), and the photos-only evaluation set."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from resnet_viz.experiments import gradpaths, lesion, unravel
from resnet_viz.inputs import images
from resnet_viz.text import experiment_readings, i18n

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here


def test_unraveled_counts_paths_and_their_central_range() -> None:
    key, p = experiment_readings.unraveled(unravel.paths(8))
    assert key == "read.paths.count" and p["total"] == "256" and p["mean"] == "4"
    assert (p["lo"], p["hi"]) == (1, 7) and p["share"] == pytest.approx(100 * (1 - 2 / 256))
    _, deep = experiment_readings.unraveled(unravel.paths(unravel.cifar_blocks(110)))
    assert deep["total"] == f"{2 ** 54:,}" and deep["share"] >= 95
    # Every path in the range is counted: the share is the binomial mass between lo and hi.
    mass = sum(math.comb(54, k) for k in range(deep["lo"], deep["hi"] + 1)) / 2 ** 54
    assert deep["share"] == pytest.approx(100 * mass)


def test_twin_lesion_reads_the_shipped_numbers_and_a_robust_twin_differently() -> None:
    shipped = unravel.shipped_lesion()
    keys = [k for k, _ in experiment_readings.twin_lesion(shipped)]
    # The shipped residual-14 twin fell about as far as the plain one (others.md): said so, not hidden.
    assert keys == ["read.twin.plain_chance", "read.twin.residual_chance", "read.twin.residual_not_robust"]
    robust = replace(shipped, residual_deleted=tuple(shipped.residual_intact - 0.02 for _ in shipped.blocks))
    keys = [k for k, _ in experiment_readings.twin_lesion(robust)]
    assert keys == ["read.twin.plain_chance", "read.twin.residual_drop", "read.twin.residual_robust"]
    assert "15%" in i18n.render(experiment_readings.twin_lesion(shipped)[0], "en")  # plain mean of the six deletions


def _row(block: str, idn: float, br: float, projection: bool = False) -> gradpaths.BlockGrad:
    return gradpaths.BlockGrad(block, idn, br, idn + br, projection, 0.0, 0.0)


def test_grad_split_reads_shares_and_the_mask() -> None:
    rows = [_row("layer1.0", 3.0, 1.0), _row("layer2.0", 1.0, 1.0, True), _row("layer2.1", 1.0, 3.0)]
    on = experiment_readings.grad_split(rows)
    assert [k for k, _ in on] == ["read.gpath.share", "read.gpath.projection"]
    assert on[0][1]["mean"] == pytest.approx(50.0) and on[0][1]["hi"] == "layer1.0" and on[0][1]["lo"] == "layer2.1"
    masked = [_row("layer1.0", 0.0, 2.0), rows[1], rows[2]]
    off = experiment_readings.grad_split(masked, (False, True, True))
    assert [k for k, _ in off] == ["read.gpath.share", "read.gpath.projection", "read.gpath.off"]
    assert off[0][1]["n"] == 2 and off[2][1]["blocks"] == ["layer1.0"]
    assert [k for k, _ in experiment_readings.grad_split(masked, (False,) * 3)] == ["read.gpath.all_off"]


def test_grad_paths_with_a_mask_has_no_identity_part_where_the_shortcut_is_off(random_handle) -> None:
    x = torch.randn(1, 3, 64, 64)
    mask = (True, False, True, True, True, True, True, True)
    with random_handle.lock:
        on = gradpaths.grad_paths(random_handle.model, x, 0)
        off = gradpaths.grad_paths(random_handle.model, x, 0, mask)
    assert on.blocks[1].identity_norm > 0 and off.blocks[1].identity_norm == 0
    assert off.blocks[1].branch_norm == pytest.approx(off.blocks[1].total_norm, rel=1e-5)
    assert all(b.sum_error < 1e-4 * max(b.total_norm, 1) for b in off.blocks)
    with pytest.raises(ValueError, match="one value per block"):
        gradpaths.grad_paths(random_handle.model, x, 0, (True,) * 3)


def test_photos_set_holds_the_licensed_photos_only(random_handle) -> None:
    photos = lesion.photo_samples()
    assert photos and all(s.mask is None for s in photos)
    assert len(photos) == experiment_readings.sample_counts(images.list_samples())[0]
    assert lesion.photos_set(random_handle).shape[0] == len(photos)
