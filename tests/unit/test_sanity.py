"""Faithfulness checks: Spearman by hand, cascading randomisation on a copy with a private generator, and the
deletion curve against hand-made deletions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from resnet_viz.explain import gradcam
from resnet_viz.explain import sanity as A
from resnet_viz.model.forward import hooks_left, trace
from resnet_viz.model.weights import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here

OFF = (True, True, False, True, False, False, True, False)  # some shortcuts off, including projections


def test_spearman_matches_hand_computed_ranks():
    # x ranks (1, 2, 3, 4); y has a tie: ranks (1.5, 1.5, 3, 4) -> Pearson of the ranks.
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.0, 5.0, 9.0])
    rx, ry = np.array([1, 2, 3, 4.0]), np.array([1.5, 1.5, 3, 4])
    assert A.spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])
    assert A.spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(A.spearman(x, np.zeros(4)))


def test_sanity_check_randomises_a_copy_only(handle, image):
    before = weights_digest(handle.model)
    top1 = gradcam.grad_cam(handle, image, ["layer4"]).target  # a class whose map is not all zero
    s = A.sanity_check(handle, image, target=top1, methods=("gradcam",))
    assert s.steps == ["original", *A.CASCADE]
    assert s.correlations["gradcam"][0] == pytest.approx(1.0)
    np.testing.assert_allclose(s.maps["gradcam"][0], gradcam.grad_cam(handle, image, ["layer4"], top1).maps["layer4"],
                               atol=1e-6)
    assert weights_digest(handle.model) == before and hooks_left(handle.model) == 0


def test_deletion_curve_against_hand_made_maps(handle, image):
    x = image
    gc = gradcam.grad_cam(handle, x, ["layer4"])
    d = A.deletion_curve(handle, x, gc.maps["layer4"], gc.target, steps=4, baseline_kind="mean")
    p0 = float(trace(handle.model, x).logits.softmax(-1)[0, gc.target])
    p_end = float(trace(handle.model, torch.zeros_like(x)).logits.softmax(-1)[0, gc.target])
    assert d.probs[0] == pytest.approx(p0, abs=1e-6) and d.random_probs[0] == pytest.approx(p0, abs=1e-6)
    assert d.probs[-1] == pytest.approx(p_end, abs=1e-6)
    # Half deleted in map order: exactly the top half of the (stable) ranking replaced by the baseline.
    order = np.argsort(-gc.maps["layer4"].ravel(), kind="stable")[: 64 * 64 // 2]
    half = x.clone().view(1, 3, -1)
    half[..., torch.from_numpy(order)] = 0
    p_half = float(trace(handle.model, half.view_as(x)).logits.softmax(-1)[0, gc.target])
    assert d.probs[2] == pytest.approx(p_half, abs=1e-6)
    assert d.area == pytest.approx(np.trapezoid(d.probs, d.fractions))


def test_sanity_check_leaves_the_global_rng_alone_and_repeats_with_its_seed(handle, image, monkeypatch):
    # Other sessions draw from torch's global generator at the same time: the check must never reseed it
    # (as torch.manual_seed inside fork_rng did) nor draw from it.
    def reseed(*args, **kwargs):
        raise AssertionError("the sanity check reseeded torch's global generator")

    monkeypatch.setattr(torch, "manual_seed", reseed)
    monkeypatch.setattr(torch.random, "manual_seed", reseed)
    state = torch.get_rng_state()
    first = A.sanity_check(handle, image, target=3, methods=("gradcam",), seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    again = A.sanity_check(handle, image, target=3, methods=("gradcam",), seed=1)
    other = A.sanity_check(handle, image, target=3, methods=("gradcam",), seed=2)
    monkeypatch.undo()
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(again.correlations["gradcam"], first.correlations["gradcam"])  # NaN == NaN here
    for a, b in zip(first.maps["gradcam"], again.maps["gradcam"], strict=True):
        np.testing.assert_array_equal(a, b)
    # The seed does pick the new weights: another seed gives other maps once fc is re-initialised.
    assert not np.array_equal(other.maps["gradcam"][1], first.maps["gradcam"][1])
