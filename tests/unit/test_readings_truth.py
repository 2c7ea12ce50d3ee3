"""Sentences that depend on a number: each fed two measured results gives two different readings, and the old
wording (a paper misquoted, a ratio called small, the first of max()) is gone. The numbers are measured on the
shipped shapes weights and the pages' defaults (each comment says how)."""

from types import SimpleNamespace

import pytest

from resnet_viz.experiments.gradpaths import BlockGrad
from resnet_viz.text import experiment_readings, i18n, paper, readings

BLOCKS = ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"]


def both(reading) -> tuple[str, str]:
    return i18n.render(reading, "en"), i18n.render(reading, "zh")


def _stack(label: str, residual: bool, ratio: float, shortcut: str = "A"):
    cfg = SimpleNamespace(label=label, residual=residual, batchnorm=True, shortcut=shortcut, zero_init_residual=False)
    return SimpleNamespace(config=cfg, output_ratio=ratio)


# ---- both halves of choice B -------------------------------------------------------------------------
# Measured: gradnorms.compare_init(56, shortcut=A or B, batch_size=32, seed=0): plain 13,770×, residual 36.9× (A),
# 104.9× (B).
def test_grad_question_judges_both_halves_of_choice_b():
    cut = experiment_readings.grad_question({"plain": _stack("plain-56", False, 13770.4),
                                      "residual": _stack("residual-56", True, 36.9)})
    tamed = experiment_readings.grad_question({"plain": _stack("plain-56", False, 13770.4),
                                        "residual": _stack("residual-56", True, 1.4)})
    untamed = experiment_readings.grad_question({"plain": _stack("plain-56", False, 40.0),
                                          "residual": _stack("residual-56", True, 30.0)})
    assert [k for k, _ in cut] == ["lec.grad.verdict_grows", "lec.grad.cut"]
    assert [k for k, _ in tamed][1] == "lec.grad.tamed" and [k for k, _ in untamed][1] == "lec.grad.not_tamed"
    en, zh = both(cut[1])
    assert "from 13,770× to 36.9×" in en and "still grows" in en and "option A" in en
    assert "从 13,770 倍降到 36.9 倍" in zh
    # the old verdict said only the plain ratio and left "shortcuts tame it" unjudged
    assert "the factor is" not in both(cut[0])[0]


def test_grad_question_for_a_vanishing_or_flat_plain_stack_says_so():
    residual = _stack("r", True, 1.0)
    fades = experiment_readings.grad_question({"plain": _stack("plain-56", False, 0.01), "residual": residual})
    flat = experiment_readings.grad_question({"plain": _stack("plain-56", False, 1.5), "residual": residual})
    assert [k for k, _ in fades] == ["lec.grad.verdict_fades"] and [k for k, _ in flat] == ["lec.grad.verdict_flat"]
    assert "1/100" in both(fades[0])[1] and "分之一" not in both(fades[0])[1]


# ---- every tied block; photos say how many and how far one photo moves a bar ---------------------------
def _values(branch: list[float]) -> dict[str, float]:
    return {"intact": 1.0, "no_shortcuts": 0.1, **{f"no_branch:{b}": v for b, v in zip(BLOCKS, branch, strict=True)}}


def test_lesion_answer_lists_every_tied_block():
    # Measured on the 6 photos (shapes weights): three blocks leave 3 of 6 answers unchanged, layer4.1 all 6.
    photos = _values([0.5, 0.5, 1 / 3, 1 / 3, 0.0, 0.5, 0.5, 1.0])
    key, p = experiment_readings.lesion_answer(photos, "agreement", 6)
    assert key == "lec.lesion.answer_photos" and p["best"] == ["layer4.1"] and p["worst"] == ["layer3.0"]
    tied = experiment_readings.lesion_answer(_values([1.0, 0.5, 1 / 3, 1 / 3, 0.0, 0.5, 0.5, 1.0]), "agreement", 6)
    assert tied[1]["best"] == ["layer1.0", "layer4.1"]  # not the first of max() alone
    en, zh = both(tied)
    assert "layer1.0, layer4.1" in en and "6 photos" in en and "17 points" in en
    assert "layer1.0、layer4.1" in zh and "6 张照片" in zh
    # Measured on 100 held-out shapes at 64 px: layer3.1 100%, layer4.0 / layer4.1 99% (one image less: not tied)
    kept = _values([0.71, 0.94, 0.38, 0.26, 0.82, 1.0, 0.99, 0.99])
    shapes = experiment_readings.lesion_answer(kept, "accuracy", 100)
    assert shapes[0] == "lec.lesion.answer" and shapes[1]["best"] == ["layer3.1"] and shapes[1]["worst"] == ["layer2.1"]


def test_the_lesion_reading_cites_veit_fig3_on_cifar_and_fig4_on_imagenet():
    out = experiment_readings.lesion(_values([0.71, 0.94, 0.38, 0.26, 0.82, 1.0, 0.99, 0.99])
                              | {f"no_shortcut:{b}": 0.95 for b in BLOCKS}, "accuracy", 0.1, 100)
    keys = [k for k, _ in out]
    assert "paper.veit2016.fig3" in keys and "paper.veit2016.fig4" in keys
    fig3, fig4 = i18n.t("paper.veit2016.fig3"), i18n.t("paper.veit2016.fig4")
    assert "CIFAR-10" in fig3 and "ResNet-110" in fig3 and "ImageNet" not in fig3
    assert "ImageNet" in fig4 and "ResNet-200" in fig4 and "never a shortcut" in fig4
    assert paper.CLAIMS["paper.veit2016.fig4"].where == "§4, Fig. 4"


# ---- ||F(x)|| / ||x|| in words --------------------------------------------------------------------------
def test_residual_sizes_call_a_block_a_nudge_only_when_it_is_one():
    # Measured on the cat photo with the shapes weights: 0.68 (layer4.1) to 1.17 (layer2.0).
    cat = dict(zip(BLOCKS, [0.91, 0.914, 1.167, 1.116, 0.996, 0.89, 1.063, 0.681], strict=True))
    small = dict(zip(BLOCKS, [0.05, 0.1, 0.2, 0.12, 0.08, 0.1, 0.15, 0.2], strict=True))
    assert readings.residual_sizes(cat)[0] == "read.res.large"
    assert readings.residual_sizes(small)[0] == "read.res.small"
    mixed = readings.residual_sizes({**cat, "layer1.0": 0.1})
    assert mixed[0] == "read.res.mixed" and mixed[1]["small"] == ["layer1.0"]
    en, zh = both(readings.residual_sizes(cat))
    assert "not a small correction" in en and "0.68 at layer4.1 to 1.17 at layer2.0" in en
    assert "nudge" not in en and "并不是一个小修正" in zh


def test_shortcuts_off_falls_apart_only_when_the_top_class_changes():
    changed = readings.off_prediction((0, "circle", 0.99), (3, "star", 0.41))
    same = readings.off_prediction((0, "circle", 0.99), (0, "circle", 0.62))
    assert changed[0] == "read.off.changed" and same[0] == "read.off.same"
    assert "falls apart" in both(changed)[0] and "falls apart" not in both(same)[0]


# ---- a share of norms, honestly defined -----------------------------------------------------------------
def _row(block: str, idn: float, br: float, cos: float, projection: bool = False) -> BlockGrad:
    return BlockGrad(block, idn, br, (idn ** 2 + br ** 2 + 2 * cos * idn * br) ** 0.5, projection, cos, 0.0)


def test_grad_split_says_the_parts_point_apart_and_names_projections():
    # Measured cosines between the two parts on the samples (shapes weights): 0.002 to 0.53.
    apart = experiment_readings.grad_split([_row("layer1.0", 3.0, 1.0, 0.02), _row("layer2.0", 1.0, 1.0, 0.5, True)])
    aligned = experiment_readings.grad_split([_row("layer1.0", 3.0, 1.0, 0.97), _row("layer2.0", 1.0, 1.0, 0.95, True)])
    assert apart[0][0] == "read.gpath.share" and aligned[0][0] == "read.gpath.share_aligned"
    en, _ = both(apart[0])
    assert "do not add up" in en and "0.02 to 0.50" in en and "arrives through the shortcut" not in en
    assert apart[1] == ("read.gpath.projection", {"blocks": ["layer2.0"]})
    assert "not the bare 1 of eq. 5" in both(apart[1])[0]


# ---- Table 1's "FLOPs" are multiply-adds; torchvision strides the 3×3 ------------------------------------
def test_family_macs_explains_the_bottleneck_difference():
    from resnet_viz.model import family

    r50 = readings.family_macs("resnet50", family.family("resnet50", 224).macs,
                               family.macs_stride_on_first_1x1("resnet50"))
    r18 = readings.family_macs("resnet18", family.family("resnet18", 224).macs,
                               family.macs_stride_on_first_1x1("resnet18"))
    assert r50[1][0] == "read.fam.macs_v15" and r18[1][0] == "read.fam.macs_match"
    assert r50[1][1] == {"tv": "4.09", "v1": "3.86", "paper": "3.8"}
    assert family.macs_stride_on_first_1x1("resnet101") == pytest.approx(7.570e9, rel=1e-3)
    assert family.macs_stride_on_first_1x1("resnet152") == pytest.approx(11.282e9, rel=1e-3)
    assert "multiply-adds" in both(r50[0])[0] and "乘加" in both(r50[0])[1]
    far = readings.family_macs("resnet50", 5.0e9, 4.9e9)
    assert far[1][0] == "read.fam.macs_differ"


# ---- number words: bands, and decreases as 1/N ----------------------------------------------------------------
def test_magnitude_bands_and_decreases():
    assert readings.magnitude(9.9)[0] == "read.mag.few" and readings.magnitude(12.3)[0] == "read.mag.tens"
    assert readings.magnitude(13770)[0] == "read.mag.tens_of_thousands"
    assert readings.magnitude(12.3, down=True)[0] == "read.mag.down_tens"
    assert i18n.t(readings.magnitude(12.3)[0], "zh") == "十倍以上"  # not 几十倍
    assert i18n.t(readings.magnitude(float("inf"))[0], "zh") == "十万倍以上"
