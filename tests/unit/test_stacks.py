"""CIFAR-style stacks: shapes and parameter counts, identity blocks, gradient norms, training runs, cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz import stacks
from resnet_viz.stacks import StackConfig, TrainSettings, build_stack, count_params

pytestmark = pytest.mark.usefixtures("one_thread")


def _bn_params(cfg: StackConfig) -> int:
    w1, w2, w3 = cfg.widths
    n = cfg.blocks_per_stage
    return 2 * (w1 + 2 * n * (w1 + w2 + w3))


def _hand_params(cfg: StackConfig) -> int:
    """Parameters counted by hand: 3x3 conv weights, BatchNorm scale+shift, fc, option-B projections."""
    w1, w2, w3 = cfg.widths
    n = cfg.blocks_per_stage
    convs = 27 * w1 + 9 * (2 * n * w1 * w1 + w1 * w2 + (2 * n - 1) * w2 * w2 + w2 * w3 + (2 * n - 1) * w3 * w3)
    total = convs + w3 * cfg.num_classes + cfg.num_classes
    if cfg.batchnorm:
        total += _bn_params(cfg)
    if cfg.residual and cfg.shortcut == "B":
        total += w1 * w2 + w2 * w3 + (2 * (w2 + w3) if cfg.batchnorm else 0)
    return total


@pytest.mark.parametrize("depth", [8, 14, 20, 56])
def test_depth_is_6n_plus_2(depth: int) -> None:
    model = build_stack(StackConfig(depth=depth))
    n = (depth - 2) // 6
    assert model.cfg.blocks_per_stage == n
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3)] == [n, n, n]
    # 6n+1 convs on the main path plus the fc layer = depth weighted layers.
    assert len(model.main_convs()) + 1 == depth
    assert model.main_convs()[0][0] == "conv1"
    assert model.main_convs()[-1][0] == f"layer3.{n - 1}.conv2"


@pytest.mark.parametrize("depth", [7, 9, 21, 2, 500])
def test_bad_depth_is_refused(depth: int) -> None:
    with pytest.raises(ValueError, match="6n\\+2"):
        StackConfig(depth=depth)


def test_bad_shortcut_is_refused() -> None:
    with pytest.raises(ValueError, match="zero-padding"):
        StackConfig(shortcut="C")


def test_resnet20_has_the_papers_parameter_count() -> None:
    # He et al. 2015 Table 6 lists ResNet-20 at 0.27M; the widely used CIFAR port (akamaster) prints 269,722.
    assert count_params(build_stack(StackConfig(depth=20))) == 269_722


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_parameter_counts_match_hand_count(residual: bool, batchnorm: bool, shortcut: str) -> None:
    cfg = StackConfig(depth=14, residual=residual, batchnorm=batchnorm, shortcut=shortcut, widths=(4, 8, 16))
    assert count_params(build_stack(cfg)) == _hand_params(cfg)


def test_option_a_adds_no_parameters_and_b_adds_projections() -> None:
    plain = count_params(build_stack(StackConfig(depth=20, residual=False)))
    res_a = count_params(build_stack(StackConfig(depth=20, shortcut="A")))
    res_b = count_params(build_stack(StackConfig(depth=20, shortcut="B")))
    assert res_a == plain
    assert res_b - plain == 16 * 32 + 32 * 64 + 2 * (32 + 64)


def test_option_a_shortcut_subsamples_and_zero_pads() -> None:
    x = torch.randn(2, 4, 6, 6)
    out = stacks.PadShortcut(4, 8, 2)(x)
    assert out.shape == (2, 8, 3, 3)
    torch.testing.assert_close(out[:, :4], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 4:]) == 0


def test_init_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_stack(StackConfig(depth=8, seed=3)).state_dict()
    after = torch.rand(1)
    b = build_stack(StackConfig(depth=8, seed=3)).state_dict()
    c = build_stack(StackConfig(depth=8, seed=4)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
    assert torch.equal(before, after)  # building consumed nothing from the global generator
    # He init (forward form): std = sqrt(2 / fan_in).
    w = build_stack(StackConfig(depth=56, seed=0)).layer3[0].conv2.weight
    assert w.std().item() == pytest.approx((2 / (9 * 64)) ** 0.5, rel=0.03)


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_zeroed_residual_branches_are_exact_identities(batchnorm: bool, shortcut: str) -> None:
    cfg = StackConfig(depth=14, batchnorm=batchnorm, shortcut=shortcut, zero_init_residual=True, widths=(4, 8, 8))
    model = build_stack(cfg).train()
    x = torch.randn(4, 3, 16, 16)
    record: list[torch.Tensor] = []
    with torch.no_grad():
        model(x, record)
    blocks = [b for stage in (model.layer1, model.layer2, model.layer3) for b in stage]
    # record = [stem, (block conv1 out, block out) per block]; block inputs are post-ReLU, so relu(x + 0) = x.
    block_in = record[0]
    for i, block in enumerate(blocks):
        block_out = record[2 + 2 * i]
        with torch.no_grad():
            expected = block_in if block.downsample is None else block.downsample(block_in)
        if block.downsample is None or shortcut == "A":
            assert torch.equal(block_out, expected)
        else:
            torch.testing.assert_close(block_out, torch.relu(expected))
        block_in = block_out


def test_zero_init_leaves_plain_stacks_untouched() -> None:
    a = build_stack(StackConfig(depth=8, residual=False, zero_init_residual=True)).state_dict()
    b = build_stack(StackConfig(depth=8, residual=False)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_layer_norms_match_plain_backward() -> None:
    cfg = StackConfig(depth=14, widths=(4, 8, 8), seed=1)
    x, y = stacks.init_batch(batch_size=8, image_size=16, seed=2)
    norms = stacks.layer_norms(cfg, x, y)
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
    no_bn = stacks.compare_init(56, batchnorm=False, batch_size=16)
    plain, res = no_bn["plain"], no_bn["residual"]
    # Without BatchNorm the plain stack's forward signal fades by orders of magnitude ...
    assert plain.activation_std[-1] < 0.1 * plain.activation_std[0]
    # ... while the residual stack's grows by orders of magnitude, and its gradient grows toward the input.
    assert res.activation_std[-1] > 1e3 * res.activation_std[0]
    assert res.output_ratio > 1e3
    # The plain stack's output gradient neither vanishes nor explodes by orders of magnitude at this depth.
    assert 0.05 < plain.output_ratio < 20
    with_bn = stacks.compare_init(56, batchnorm=True, batch_size=16)
    # With BatchNorm, plain gradients explode toward the input; residual ones stay within a small factor.
    assert with_bn["plain"].weight_ratio > 100
    assert with_bn["residual"].weight_ratio < 30


def test_compare_init_refuses_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variants"):
        stacks.compare_init(8, variants=("dense",))


def _tiny_run(**kw) -> tuple[dict[str, StackConfig], TrainSettings]:
    cfgs = {"a": StackConfig(depth=8, widths=(4, 8, 8)), "b": StackConfig(depth=8, residual=False, widths=(4, 8, 8))}
    settings = TrainSettings(steps=30, batch_size=16, lr=0.05, image_size=16, log_every=10, data="random",
                             pool_size=32, **kw)
    return cfgs, settings


def test_training_lowers_loss_and_reports_progress(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    cfgs, settings = _tiny_run()
    calls = []
    result = stacks.train_stacks(cfgs, settings, progress=lambda c, done, total: calls.append((done, total)))
    assert calls == [(10, 30), (20, 30), (30, 30)]
    assert result.finished and not result.from_cache
    for curve in result.curves.values():
        assert curve.steps == [10, 20, 30]
        assert curve.loss[-1] < curve.loss[0]
        assert len(curve.grad_norms) == 3 and len(curve.grad_norms[0]) == 7
    # The second call replays the disk cache, under RESNET_VIZ_CACHE.
    assert list((tmp_path / "gradflow").glob("*.json"))
    again = stacks.train_stacks(cfgs, settings)
    assert again.from_cache
    assert again.curves["a"].loss == result.curves["a"].loss
    assert again.curves["a"].config == result.curves["a"].config


def test_training_is_deterministic_and_stoppable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    cfgs, settings = _tiny_run()
    stopped = stacks.train_stacks(cfgs, settings, progress=lambda c, done, total: done >= 10)
    assert not stopped.finished
    assert [c.steps for c in stopped.curves.values()] == [[10], [10]]
    assert not list((tmp_path / "gradflow").glob("*.json"))  # a stopped run is not cached
    full = stacks.train_stacks(cfgs, settings, cache=False)
    assert full.curves["a"].loss[0] == stopped.curves["a"].loss[0]


def test_cache_dir_defaults_to_home(monkeypatch) -> None:
    monkeypatch.delenv("RESNET_VIZ_CACHE", raising=False)
    assert str(stacks.cache_dir()).endswith(".cache/resnet-viz/gradflow")


def test_cache_key_depends_on_settings() -> None:
    cfgs, settings = _tiny_run()
    other = TrainSettings(**{**settings.__dict__, "lr": 0.01})
    assert stacks.cache_key(cfgs, settings) != stacks.cache_key(cfgs, other)
    assert stacks.cache_key(cfgs, settings) == stacks.cache_key(dict(reversed(list(cfgs.items()))), settings)


def test_bad_training_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        TrainSettings(optimizer="lbfgs")
    with pytest.raises(ValueError, match="shallow"):
        stacks.degradation_configs(shallow=20, deep=8)


def test_pad_shortcut_has_no_parameters() -> None:
    assert sum(p.numel() for p in stacks.PadShortcut(4, 8, 2).parameters()) == 0
    assert isinstance(build_stack(StackConfig(depth=8, shortcut="B")).layer2[0].downsample, nn.Sequential)


def test_resnet_conv_grad_norms_match_torchvision_forward(random_handle) -> None:
    import copy

    from resnet_viz.forward import hooks_left, param_hash

    model = random_handle.model
    before = param_hash(model)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    mask = (True, False) * 4
    got = stacks.resnet_conv_grad_norms(random_handle, x, mask)
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
    assert param_hash(model) == before and hooks_left(model) == 0
    assert all(p.grad is None for p in model.parameters())
    same = stacks.resnet_conv_grad_norms(random_handle, x, None)
    assert same.masked == pytest.approx(same.all_on)


def test_degradation_shows_on_a_cheap_seeded_run(tmp_path, monkeypatch) -> None:
    # A narrower, shorter cousin of the page's default run (measured: holds for seeds 0, 1, 2).
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    cfgs = stacks.degradation_configs(shallow=8, deep=20, widths=(4, 8, 16), seed=0)
    settings = TrainSettings(steps=100, batch_size=16, lr=0.003, optimizer="adam", image_size=16, log_every=20,
                             pool_size=256, seed=0)
    final = {k: c.final_loss for k, c in stacks.train_stacks(cfgs, settings, cache=False).curves.items()}
    assert final["plain-20"] > final["plain-8"]
    assert final["residual-20"] <= final["residual-8"]
    assert final["residual-20"] < final["plain-20"]
    result = stacks.TrainResult(settings, {k: stacks.TrainCurve(k, cfgs[k], [], [100], [v]) for k, v in final.items()},
                                True)
    assert stacks.degradation_shows(result)
    final["residual-20"] = final["residual-8"] + 0.1
    worse = stacks.TrainResult(settings, {k: stacks.TrainCurve(k, cfgs[k], [], [100], [v]) for k, v in final.items()},
                               True)
    assert not stacks.degradation_shows(worse)
    text = " ".join(stacks.explain_degradation(stacks.TrainResult(settings, {}, True)))
    assert "ln 10 = 2.30" in text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_default_curves_match_the_defaults_and_show_degradation(seed: int, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))  # so only the shipped file can answer
    configs, settings = stacks.default_degradation(seed)
    result = stacks.find_run(configs, settings)
    assert result is not None and result.source == "precomputed" and result.finished
    final = {k: c.final_loss for k, c in result.curves.items()}
    assert final["plain-32"] > final["plain-8"] and final["residual-32"] <= final["residual-8"]
    assert stacks.degradation_shows(result)
    lines = stacks.explain_degradation(result)
    assert lines[0].startswith("Plain: the deeper net trains **worse**")
    assert lines[1].startswith("Residual: the deeper net trains **better**")


def _norms(residual: bool, out_grad: list[float], act: list[float], w_grad: list[float]) -> stacks.LayerNorms:
    cfg = StackConfig(depth=8, residual=residual)
    return stacks.LayerNorms(cfg, ["a", "b"], w_grad, out_grad, act, 2.3)


def test_explain_init_reads_the_numbers() -> None:
    lines = stacks.explain_init({
        "plain": _norms(False, [2000.0, 1.0], [0.6, 0.6], [1500.0, 1.0]),
        "residual": _norms(True, [1.0, 1.0], [1.0, 1e4], [0.01, 1.0]),
    })
    assert "grows steeply toward the input" in lines[0] and "2,000×" in lines[0]
    assert "keeps its scale" in lines[0] and "different story" not in lines[0]
    assert "keeps roughly its size" in lines[1] and "blows up" in lines[1]
    assert "weight-gradient ratio (0.01) tells a different story" in lines[1]
    fading = stacks.explain_init({"p": _norms(False, [0.01, 1.0], [1.0, 0.001], [0.01, 1.0])})[0]
    assert "fades toward the input" in fading and "100× smaller" in fading and "forward signal fades" in fading


def test_torch_threads_restores_the_count_even_on_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), stacks.torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
        raise RuntimeError("interrupted, as a Streamlit stop would")
    assert torch.get_num_threads() == before
    with stacks.torch_threads(None):
        assert torch.get_num_threads() == before


def test_gradient_correlation_matches_per_point_gradients() -> None:
    cfg = StackConfig(depth=8, widths=(4, 8, 8), seed=2)
    got = stacks.gradient_correlation(cfg, n_points=6, image_size=16, max_lag=2)
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
    corr = stacks.compare_correlation(56, batchnorm=True)
    # Measured (seed 0): neighbouring inputs' gradients correlate 0.003 in plain-56 and 0.53 in residual-56.
    assert abs(corr["plain-56"][0]) < 0.05
    assert corr["residual-56"][0] > 0.3
