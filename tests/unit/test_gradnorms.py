"""Gradient norms at initialisation against plain backward passes and torchvision's forward, their readings,
shattered gradients, and no change to torch's process-wide thread count."""

from __future__ import annotations

import threading
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.experiments import degradation, gradnorms
from resnet_viz.experiments.stacks import StackConfig, TrainSettings, build_stack
from resnet_viz.text import experiment_readings, i18n

pytestmark = pytest.mark.usefixtures("one_thread")

def test_layer_norms_match_plain_backward() -> None:
    cfg = StackConfig(depth=14, widths=(4, 8, 8), seed=1)
    x, y = gradnorms.init_batch(batch_size=8, image_size=16, seed=2)
    norms = gradnorms.layer_norms(cfg, x, y)
    # Reference: the ordinary .backward() on an identical network.
    model = build_stack(cfg).train()
    record: list[torch.Tensor] = []
    out = model(x, record)
    for t in record:
        t.retain_grad()
    loss = F.cross_entropy(out, y)
    loss.backward()
    assert norms.loss == pytest.approx(loss.item())
    assert norms.layers == [n for n, _ in model.main_convs()]
    ref_w = [m.weight.grad.norm().item() for _, m in model.main_convs()]
    ref_o = [t.grad.norm().item() for t in record]
    assert norms.weight_grad == pytest.approx(ref_w, rel=1e-5)
    assert norms.output_grad == pytest.approx(ref_o, rel=1e-5)
    assert norms.activation_std == pytest.approx([t.std().item() for t in record], rel=1e-5)
    assert norms.weight_ratio == pytest.approx(ref_w[0] / ref_w[-1], rel=1e-5)


def test_depth56_gradient_and_signal_story() -> None:
    # Measured with seed 0, batch 16 of random 32x32 inputs and random labels (see the numbers).
    no_bn = gradnorms.compare_init(56, batchnorm=False, batch_size=16)
    plain, res = no_bn["plain"], no_bn["residual"]
    # Without BatchNorm the plain stack's forward signal fades by orders of magnitude ...
    assert plain.activation_std[-1] < 0.1 * plain.activation_std[0]
    # ... while the residual stack's grows by orders of magnitude, and its gradient grows toward the input.
    assert res.activation_std[-1] > 1e3 * res.activation_std[0]
    assert res.output_ratio > 1e3
    # The plain stack's output gradient neither vanishes nor explodes by orders of magnitude at this depth.
    assert 0.05 < plain.output_ratio < 20
    with_bn = gradnorms.compare_init(56, batchnorm=True, batch_size=16)
    # With BatchNorm, plain gradients explode toward the input; residual ones stay within a small factor.
    assert with_bn["plain"].weight_ratio > 100
    assert with_bn["residual"].weight_ratio < 30


def test_compare_init_refuses_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variants"):
        gradnorms.compare_init(8, variants=("dense",))



def test_resnet_conv_grad_norms_match_torchvision_forward(random_handle) -> None:
    import copy

    from resnet_viz.model.forward import hooks_left
    from resnet_viz.model.weights import weights_digest

    model = random_handle.model
    before = weights_digest(model)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    mask = (True, False) * 4
    got = gradnorms.resnet_conv_grad_norms(random_handle, x, mask)
    # Reference: torchvision's own forward on a private copy, conv outputs caught by hooks on that copy.
    ref_model = copy.deepcopy(model)
    outs: dict[str, torch.Tensor] = {}
    modules = dict(ref_model.named_modules())
    for name in got.layers:
        modules[name].register_forward_hook(lambda m, i, o, name=name: outs.__setitem__(name, o))
    logits = ref_model(x.clone().requires_grad_(True))  # the shared model's parameters are frozen
    assert got.target == int(logits[0].argmax())
    grads = torch.autograd.grad(logits[0, got.target], [outs[n] for n in got.layers])
    assert got.all_on == pytest.approx([g.norm().item() for g in grads], rel=1e-4)
    assert len(got.layers) == 17 and got.mask == mask
    assert got.masked != pytest.approx(got.all_on)
    # The shared model is untouched: same weights, no hooks, no gradients accumulated.
    assert weights_digest(model) == before and hooks_left(model) == 0
    assert all(p.grad is None for p in model.parameters())
    same = gradnorms.resnet_conv_grad_norms(random_handle, x, None)
    assert same.masked == pytest.approx(same.all_on)



def _norms(residual: bool, out_grad: list[float], act: list[float], w_grad: list[float]) -> gradnorms.LayerNorms:
    cfg = StackConfig(depth=8, residual=residual)
    return gradnorms.LayerNorms(cfg, ["a", "b"], w_grad, out_grad, act, 2.3)


def test_init_readings_follow_the_numbers() -> None:
    lines = experiment_readings.gradflow_init({
        "plain": _norms(False, [2000.0, 1.0], [0.6, 0.6], [1500.0, 1.0]),
        "residual": _norms(True, [1.0, 1.0], [1.0, 1e4], [0.01, 1.0]),
    })
    text = [i18n.render(r) for r in lines]
    assert "grows toward the input" in text[0] and "2,000×" in text[0] and "keeps its scale" in text[0]
    assert "keeps roughly its size" in text[1] and "blows up" in text[1]
    assert any("weight-gradient ratio (0.01)" in x for x in text)
    fades = experiment_readings.gradflow_init({"p": _norms(False, [0.01, 1.0], [1.0, 0.001], [0.01, 1.0])})
    fading = i18n.render(fades[0])
    assert "fades toward the input" in fading and "100× smaller" in fading and "forward signal fades" in fading


def test_gradient_correlation_matches_per_point_gradients() -> None:
    cfg = StackConfig(depth=8, widths=(4, 8, 8), seed=2)
    got = gradnorms.gradient_correlation(cfg, n_points=6, image_size=16, max_lag=2)
    # Reference: the same line of inputs, BatchNorm frozen at the line's statistics, one point at a time.
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    x0, d = torch.randn(1, 3, 16, 16, generator=gen), torch.randn(1, 3, 16, 16, generator=gen)
    xs = [x0 + (i / 6) * d for i in range(6)]
    model = build_stack(cfg)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.cat(xs))
    model.eval()
    grads = []
    for x in xs:
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x)[0, 0], x)
        grads.append(g.flatten())
    ref = [sum(torch.corrcoef(torch.stack([grads[i], grads[i + k]]))[0, 1].item() for i in range(6 - k)) / (6 - k)
           for k in (1, 2)]
    assert got == pytest.approx(ref, abs=1e-5)


def test_plain_gradients_shatter_and_residual_ones_do_not() -> None:
    corr = gradnorms.compare_correlation(56, batchnorm=True)
    # Measured (seed 0): neighbouring inputs' gradients correlate 0.003 in plain-56 and 0.53 in residual-56.
    assert abs(corr["plain-56"][0]) < 0.05
    assert corr["residual-56"][0] > 0.3



def test_overlapping_runs_leave_torchs_thread_count_alone() -> None:
    # Two sessions on the Gradient flow page at once: no request may change the process's thread count, not
    # even for a while (another session's request would run on it), and it must be the same afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # not 1, so a request that pins 1 thread shows up
    cfgs = {"a": StackConfig(depth=8, widths=(4, 8, 8))}
    settings = TrainSettings(steps=20, batch_size=8, image_size=16, log_every=10, data="random", pool_size=16)
    jobs = [lambda: gradnorms.compare_init(8, batch_size=8, widths=(4, 8, 8), image_size=16),
            lambda: gradnorms.gradient_correlation(StackConfig(depth=8, widths=(4, 8, 8)), n_points=6, image_size=16,
                                                   max_lag=2),
            lambda: degradation.train_stacks(cfgs, settings, cache=False)]
    start = threading.Barrier(2 * len(jobs))
    errors: list[BaseException] = []

    def work(job) -> None:
        start.wait()
        try:
            job()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs * 2]
    seen = set()
    try:
        for th in threads:
            th.start()
        while any(th.is_alive() for th in threads):
            seen.add(torch.get_num_threads())
            time.sleep(0.002)
        after = torch.get_num_threads()
    finally:
        for th in threads:
            th.join()
        torch.set_num_threads(before)
    assert not errors
    assert seen == {2} and after == 2
