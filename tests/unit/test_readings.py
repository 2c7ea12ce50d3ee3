"""Words from numbers: each reading function fed two results gives two different readings, and every reading
renders in both languages."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from resnet_viz.experiments import degradation, gradnorms
from resnet_viz.text import experiment_readings, i18n, paper, readings

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"]


def keys(rs) -> list[str]:
    """The readings' keys, after rendering each in both languages (a missing placeholder raises)."""
    for r in rs:
        for lang in i18n.LANGUAGES:
            assert i18n.render(r, lang).strip()
    return [k for k, _ in rs]


def _lesion_values(branch: list[float], shortcut: list[float], all_off: float) -> dict[str, float]:
    return {"intact": 1.0, "no_shortcuts": all_off,
            **{f"no_branch:{b}": v for b, v in zip(BLOCKS, branch, strict=True)},
            **{f"no_shortcut:{b}": v for b, v in zip(BLOCKS, shortcut, strict=True)}}


# Measured: lesion.run(shapes weights, "shapes", n=100, size=64) on the shipped checkpoint.
SHAPES_100 = _lesion_values([0.71, 0.94, 0.38, 0.26, 0.82, 1.0, 0.99, 0.99],
                            [0.97, 0.86, 0.83, 1.0, 1.0, 0.91, 1.0, 1.0], 0.10)
# Veit et al.'s ImageNet pattern: single blocks barely matter except the downsampling ones.
VEIT_LIKE = _lesion_values([0.99, 0.98, 0.80, 0.99, 0.75, 0.98, 0.70, 0.99], [0.5] * 8, 0.10)


def test_lesion_judges_the_worst_block_and_names_the_downsampling_blocks():
    shapes = experiment_readings.lesion(SHAPES_100, "accuracy", 0.1, 100)
    veit = experiment_readings.lesion(VEIT_LIKE, "accuracy", 0.1, 100)
    ks, kv = keys(shapes), keys(veit)
    # Mean 76% but layer2.1 leaves 26%: never "costs little".
    assert "read.lesion.branch_small" not in ks and "read.lesion.branch_uneven" in ks
    branch = dict(shapes)["read.lesion.branch_uneven"]
    assert branch["worst"] == "layer2.1" and branch["worst_value"] == pytest.approx(26)
    # Here layer2.1 is worse than every downsampling block; in the Veit-like result the downsampling ones are worst.
    assert "read.lesion.down_not_worse" in ks and "read.lesion.down_worse" in kv
    down = dict(shapes)["read.lesion.down_not_worse"]
    assert (down["l2"], down["l3"], down["l4"]) == pytest.approx((38, 82, 99))
    assert "paper.veit2016.fig3" in ks and "read.lesion.veit_differs" in ks and "read.lesion.veit_same" in kv
    # One shortcut removed averages 95% against 76% for one branch: less harm, said from the numbers.
    assert "read.lesion.shortcut_less_harm" in ks and "read.lesion.shortcut_more_harm" in kv
    assert "read.lesion.collapse" in ks
    text = i18n.join(shapes, "en")
    assert "layer2.1, only 26%" in text and "as Veit et al. found" not in text


def test_lesion_on_few_images_makes_no_comparison_with_the_paper():
    few = keys(experiment_readings.lesion(VEIT_LIKE, "agreement", 0.0, 16))
    assert "read.lesion.intact_agree" in few
    assert "read.lesion.veit_same" not in few and "read.lesion.veit_differs" not in few


def test_lesion_all_shortcuts_off_collapse_or_survive():
    survive = keys(experiment_readings.lesion({**SHAPES_100, "no_shortcuts": 0.8}, "accuracy", 0.1, 100))
    assert "read.lesion.survive" in survive and "read.lesion.not_plain" not in survive


def test_evaluation_set_is_named_honestly_with_its_size():
    shapes = experiment_readings.evaluation_set("shapes", 100, image_size=64)
    samples = experiment_readings.evaluation_set("photos", 16, n_photos=6, n_shapes=10)
    photos = experiment_readings.evaluation_set("photos", 6, n_photos=6)
    assert keys(shapes) == ["read.set.shapes"]
    assert keys(samples) == ["read.set.samples", "read.set.too_few"]
    assert keys(photos) == ["read.set.photos", "read.set.too_few"]
    assert "16 samples (6 photos + 10 generated shapes)" in i18n.render(samples[0], "en")
    assert dict(samples)["read.set.too_few"]["points"] == pytest.approx(6.25)
    assert "17 points" in i18n.render(photos[1], "en")


def test_sample_counts_tell_photos_from_generated_shapes():
    from resnet_viz.inputs import images

    photos, shapes = experiment_readings.sample_counts(images.list_samples())
    assert (photos, shapes) == (6, 10)


def test_gradcam_grid_is_the_measured_one():
    import torch
    from torchvision.models import resnet18

    from resnet_viz.text.readings import gradcam_grid, output_size_rule

    model = resnet18(num_classes=10).eval()
    shapes = {}
    model.layer4.register_forward_hook(lambda m, i, o: shapes.__setitem__("layer4", tuple(o.shape[-2:])))
    texts = []
    for size in (128, 224):
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size))
        texts.append(i18n.render(gradcam_grid("layer4", shapes["layer4"], (size, size)), "en"))
        # The adaptive average pool receives layer4's map, whatever its size, and gives 1×1.
        assert i18n.render(output_size_rule(shapes["layer4"]), "en").count(f"{shapes['layer4'][0]}×") == 1
    assert "4×4 grid" in texts[0] and "7×7 grid" in texts[1] and "about 32 px" in texts[0]
    assert "4×4" in i18n.render(gradcam_grid("layer4", (4, 4), (128, 128)), "zh")


def _norms(label: str, residual: bool, bn: bool, out_ratio: float, w_ratio: float, a0: float, a1: float):
    cfg = SimpleNamespace(label=label, residual=residual, batchnorm=bn, zero_init_residual=False)
    return SimpleNamespace(config=cfg, output_ratio=out_ratio, weight_ratio=w_ratio, activation_std=[a0, a1])


# Measured with gradnorms.compare_init(56, batchnorm=True, shortcut="A") (output ratio, weight ratio, std first/last).
DEPTH56_BN = {"plain": _norms("plain-56", False, True, 13034.2, 1225.8, 0.585, 0.622),
              "residual": _norms("residual-56", True, True, 36.9, 7.37, 0.585, 2.506)}
DEPTH56_NO_BN = {"plain": _norms("plain-56", False, False, 0.557, 0.67, 0.816, 0.032),
                 "residual": _norms("residual-56", True, False, 15541.1, 0.042, 0.816, 16828.6)}


def test_gradient_flow_says_the_factors_with_numbers():
    bn, no_bn = experiment_readings.gradflow_init(DEPTH56_BN), experiment_readings.gradflow_init(DEPTH56_NO_BN)
    assert keys(bn) != keys(no_bn)
    pair = next(r for r in bn if r[0] == "read.gf.compare")
    compare = i18n.render(pair, "en")
    assert "grows 36.9× (more than tenfold) in residual-56" in compare
    assert "grows 13,034× (more than ten-thousandfold) in plain-56" in compare
    # 倍 is the ratio itself: 增大到原来的 N 倍, never 增大了 N 倍 (N+1 times); bands, not 几十倍 for 36.9
    assert "增大到原来的 13,034 倍（万倍以上）" in i18n.render(pair, "zh")
    assert "增大到原来的 36.9 倍（十倍以上）" in i18n.render(pair, "zh")
    # Without BatchNorm the plain stack's gradient shrinks by 1.8×: said as such, not as "0.557×".
    flat = i18n.render(next(r for r in no_bn if r[0] == "read.gf.compare"), "en")
    assert "stays about the same (first/last = 0.56) in plain-56" in flat and "grows 15,541×" in flat
    # The BN plain stack explodes at init: said beside He et al.'s healthy norms; without BN it does not.
    assert "read.gf.healthy_norms" in keys(bn) and "read.gf.healthy_norms" not in keys(no_bn)
    lines = [i18n.render(r, "en") for r in bn if r[0] == "read.gf.line"]
    assert "keeps its scale (activation std 0.58 → 0.622)" in lines[0]
    assert "keeps its scale" not in lines[1] and "grows (activation std 0.58 → 2.51)" in lines[1]


def test_gradient_flow_on_real_stacks_depth_20():

    with_bn = keys(experiment_readings.gradflow_init(gradnorms.compare_init(20, batchnorm=True, batch_size=16)))
    without = keys(experiment_readings.gradflow_init(gradnorms.compare_init(20, batchnorm=False, batch_size=16)))
    assert with_bn != without


def test_activation_keeps_its_scale_only_within_the_threshold():
    th = readings.THRESHOLDS
    assert experiment_readings.activation(0.58, 0.62)[0] == "read.gf.fwd_keeps"
    assert experiment_readings.activation(0.58, 2.51)[0] == "read.gf.fwd_grows"
    assert experiment_readings.activation(0.816, 0.41)[0] == "read.gf.fwd_shrinks"
    assert experiment_readings.activation(0.816, 0.032)[0] == "read.gf.fwd_fades"
    assert experiment_readings.activation(1.0, th.act_extreme * 1.01)[0] == "read.gf.fwd_blows"


def test_white_noise_only_when_the_correlation_says_so():
    # Measured with gradnorms.compare_correlation(20, batchnorm=False) and (20, True); 0.05 stands for a deeper net.
    r = experiment_readings.shattered({"plain-20 no BN": [0.798], "plain-20 BN": [0.294], "plain-110 BN": [0.05]})
    assert keys(r) == ["read.gf.shatter_smooth", "read.gf.shatter_partial", "read.gf.shatter_noise"]


FINALS = [(1.64, 2.22, 1.77, 1.12), (1.64, 1.65, 1.77, 1.12), (1.64, 1.50, 1.77, 1.12), (1.64, 2.22, 1.00, 1.30),
          (1.0, 1.0, 1.0, 1.0), (2.0, 2.019, 2.0, 1.0), (2.0, 2.021, 2.0, 2.021)]


@pytest.mark.parametrize("p8, p32, r8, r32", FINALS)
def test_degradation_gives_exactly_one_verdict(p8, p32, r8, r32):
    rs = experiment_readings.degradation({"plain-8": p8, "plain-32": p32, "residual-8": r8, "residual-32": r32}, 200)
    verdicts = [k for k in keys(rs) if k in experiment_readings.DEGRADATION_VERDICTS]
    assert len(verdicts) == 1
    assert "After 200 steps" in i18n.render(rs[0], "en") and "训练 200 步后" in i18n.render(rs[0], "zh")
    assert {"paper.he2015.fig1", "paper.he2015.table2"} <= set(keys(rs))


def test_degradation_two_runs_two_readings():
    # The shipped precomputed run (seed 2): plain-32 2.22 above plain-8 1.64; residual-32 1.12 below residual-8 1.77.
    # 2.22 is still near a uniform guess (ln 10 = 2.30): the deep plain net has barely started learning, which is
    # not yet the degradation pattern (that was the old reading).
    path = next(p for p in sorted((ROOT / "assets" / "gradflow").glob("*.json"))
                if json.loads(p.read_text())["settings"]["seed"] == 2)

    run = degradation.result_from_json(json.loads(path.read_text()))
    shipped = experiment_readings.degradation_of(run, degradation.chance_loss(run.settings))
    flat = experiment_readings.degradation({"plain-8": 1.64, "plain-32": 1.65, "residual-8": 1.77, "residual-32": 1.12},
                                           200)
    assert keys(shipped)[0] == "read.deg.not_learning" and keys(flat)[0] == "read.deg.plain_not_worse"
    assert "ln 10 = 2.30" in i18n.render(shipped[0], "en") and "barely started" in i18n.render(shipped[0], "en")
    assert "27.94" in i18n.render(shipped[2], "en") and "28.54" in i18n.render(shipped[2], "en")


def test_degradation_near_chance_is_not_called_degradation():
    # Two deep plain nets worse than the shallow one (1.64): one still at a uniform guess's loss, one that learnt.
    losses = {"plain-8": 1.64, "residual-8": 1.77, "residual-32": 1.12}
    chance = 2.302585  # ln 10
    stuck = experiment_readings.degradation({**losses, "plain-32": 2.27}, 200, chance=chance)
    learnt = experiment_readings.degradation({**losses, "plain-32": 1.90}, 200, chance=chance)
    assert keys(stuck)[0] == "read.deg.not_learning" and keys(learnt)[0] == "read.deg.shows"
    assert "degradation pattern, in a short run" not in i18n.render(stuck[0], "en")
    # without the chance level the old verdict stands
    assert keys(experiment_readings.degradation({**losses, "plain-32": 2.27}, 200))[0] == "read.deg.shows"
    assert i18n.render(experiment_readings.degradation_title(200), "en") == "Training loss over the first 200 steps"


def test_parameter_counts_with_a_small_head_name_the_imagenet_count():
    from torchvision.models import resnet18

    count = {k: sum(p.numel() for p in resnet18(num_classes=k).parameters()) for k in (10, 1000)}
    small, full = readings.param_counts(count[10], 10), readings.param_counts(count[1000], 1000)
    assert small[0] == "read.params.head" and full[0] == "read.params.imagenet"
    assert small[1]["imagenet"] == count[1000] == paper.CLAIMS["paper.torchvision.resnet18"].values["params"]
    assert "11,181,642" in i18n.render(small, "en") and "11,689,512" in i18n.render(small, "zh")


def test_ig_completeness_cites_eq_1_and_the_gap():
    with_change = keys(readings.ig_completeness(0.01, 2.0))
    without = keys(readings.ig_completeness(0.01))
    assert with_change != without and "paper.sundararajan2017.eq1" in without
    assert "(x − x′)" in i18n.render(paper.claim("paper.sundararajan2017.eq1"), "en")


def test_weights_that_cannot_describe_the_image_say_so():
    assert keys(readings.weights_fit("shapes", "photo", 10)) == ["read.fit.shapes_on_photo"]
    assert readings.weights_fit("shapes", "shape", 10) == []
    assert keys(readings.weights_fit("imagenet", "shape", 1000)) == ["read.fit.imagenet_on_shape"]
    assert readings.weights_fit("imagenet", "photo", 1000) == []
    assert keys(readings.weights_fit("random", "photo", 1000)) == ["read.fit.random"]


def test_shortcut_options_cite_tables_2_and_3_and_torchvision():
    text = i18n.join(readings.shortcut_options(), "en")
    for number in ("option A", "option B", "69.758", "30.242", "25.03", "24.52", "24.19"):
        assert number in text


@pytest.mark.parametrize("key", sorted(paper.CLAIMS))
def test_every_claim_prints_its_numbers_in_both_languages(key):
    c = paper.CLAIMS[key]
    for lang in i18n.LANGUAGES:
        text = i18n.render(paper.claim(key), lang)
        for v in c.values.values():
            assert (f"{v:,}" if isinstance(v, int) and v > 9999 else str(v)) in text, (lang, v)
