"""Words from numbers: measured results in, readings out — a reading is (locale key, params), never prose."""

# Every threshold that turns a number into a word is in THRESHOLDS, one frozen dataclass. A param may itself be
# a reading (a nested (key, params) tuple); i18n.render() translates it in place. Claims about papers come from
# paper.CLAIMS with their section, figure or table. This module holds the thresholds, number words and the
# readings of the model itself (Grad-CAM grid, architecture, weights); experiment_readings.py reads the experiments.

from __future__ import annotations

import math
from dataclasses import dataclass

from resnet_viz.model.layers import fact
from resnet_viz.text import paper

__all__ = ["FC_IN_FEATURES", "IMAGENET_CLASSES", "THRESHOLDS", "Reading", "Thresholds", "family_macs",
           "gradcam_grid", "head_params", "ig_completeness", "magnitude", "off_prediction", "output_size_rule",
           "param_counts", "residual_sizes", "shortcut_options", "times", "weights_fit"]

Reading = tuple[str, dict]

FC_IN_FEATURES = fact("avgpool").channels  # ResNet-18's fc input: the head has 512·K + K parameters for K classes
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class Thresholds:
    """Where a measured number changes the word used for it."""

    # Gradient first/last ratio within [1/grad_flat, grad_flat]: "keeps roughly its size".
    grad_flat: float = 3.0
    # A BN plain stack whose gradient grows at least this much toward the input "explodes at initialisation".
    grad_explodes: float = 100.0
    # Activation std last/first within [1/act_keep, act_keep]: "keeps its scale"; beyond act_extreme: blows
    # up / fades; in between: grows / shrinks.
    act_keep: float = 1.5
    act_extreme: float = 10.0
    # Neighbouring inputs' gradient correlation: below shatter_noise "like white noise", above shatter_smooth
    # "smooth", in between "partly correlated".
    shatter_noise: float = 0.2
    shatter_smooth: float = 0.7
    # Lesion drops are judged against the network's skill above chance (intact − chance), so a weak
    # checkpoint is read on its own scale: a drop up to lesion_small × skill is small, beyond lesion_large large.
    lesion_small: float = 0.1
    lesion_large: float = 0.3
    # All shortcuts removed: within collapse × skill of chance counts as a collapse.
    collapse: float = 0.25
    # Two lesion means closer than lesion_same × skill are "about the same".
    lesion_same: float = 0.05
    # Fewer images than this cannot support a comparison with a paper's numbers.
    few_images: int = 50
    # Final training losses closer than this (nats) count as equal in the degradation run.
    loss_margin: float = 0.02
    # A channel that passes its ReLU at fewer than this share of held-out positions is dead.
    channel_dead: float = 0.001
    # An optimised image must drive its channel more than channel_beat × the best held-out image's mean, or the
    # channel is read as noise-like (the optimisation found nothing stronger than real data).
    channel_beat: float = 1.0
    # Best-IoU changes within iou_same (absolute) read as "about the same"; channel counts must differ by one.
    iou_same: float = 0.005
    # Network Dissection's bar (Bau et al. 2017, sec. 2.2): a concept labels a unit whose IoU with it is above this;
    # it decides both the labels (explain/dissection.py) and the words about them.
    iou_label: float = 0.04
    # A deep net whose final loss is still at least near_chance × ln K (a uniform guess) has barely started
    # learning: a slow start, not yet degradation.
    near_chance: float = 0.95
    # Shortcuts "tame" an exploding plain stack when they keep the residual ratio within grad_flat; they "cut" it
    # when the plain ratio is at least grad_tamed times the residual one (and the residual one still grows).
    grad_tamed: float = 10.0
    # ||F(x)|| / ||x|| up to residual_small: the block only nudges its input.
    residual_small: float = 0.25
    # Shortcut and branch parts of dL/dx with every cosine at least aligned_cos point the same way (their norms
    # then nearly add up to the total's).
    aligned_cos: float = 0.9
    # A multiply-add count within macs_match (relative) of Table 1's printed one matches it.
    macs_match: float = 0.03


THRESHOLDS = Thresholds()

# ---- number words --------------------------------------------------------------------------------------------
# A factor's order of magnitude: "more than tenfold" for 12.3 (never "tens of times"); decreases have their own
# words (Chinese says 不到原来的十分之一, never 小了几十倍).
# (upper bound, key for a growth, key for a decrease)
_MAGNITUDES = ((10, "read.mag.few", "read.mag.down_few"), (100, "read.mag.tens", "read.mag.down_tens"),
               (1_000, "read.mag.hundreds", "read.mag.down_hundreds"),
               (10_000, "read.mag.thousands", "read.mag.down_thousands"),
               (100_000, "read.mag.tens_of_thousands", "read.mag.down_tens_of_thousands"),
               (math.inf, "read.mag.more", "read.mag.down_more"))


def magnitude(r: float, down: bool = False) -> Reading:
    """The band of a factor r >= 1: below 10, at least 10, 100, 1,000, 10,000, 100,000; `down` for a decrease
    by r (the ratio is 1/r)."""
    _, up, dn = next((m for m in _MAGNITUDES if r < m[0]), _MAGNITUDES[-1])
    return (dn if down else up), {}


def times(r: float) -> str:
    """A factor as digits: '13,770' from 100 up, else 3 significant digits; the locale adds × or 倍."""
    if not math.isfinite(r):
        return "∞"
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"


# ---- the Grad-CAM grid --------------------------------------------------------------------------------------------
def gradcam_grid(layer: str, map_shape: tuple[int, int], image_shape: tuple[int, int]) -> Reading:
    """The measured grid of a Grad-CAM map (e.g. layer4 is 4×4 at 128 px, 7×7 at 224 px) and its cell size."""
    (mh, mw), (ih, iw) = map_shape, image_shape
    return "read.cam.grid", {"layer": layer, "h": mh, "w": mw, "ih": ih, "iw": iw,
                             "cell": f"{ih / mh:.3g}" if ih / mh == iw / mw else f"{ih / mh:.3g}×{iw / mw:.3g}"}


# ---- ||F(x)|| / ||x||: does a block nudge its input? -----------------------------------------------------------
def residual_sizes(ratios: dict[str, float], th: Thresholds = THRESHOLDS) -> Reading:
    """The measured ||F(x)|| / ||x|| per block (featuremaps.residual_ratios) in words: every block nudges its
    input only when every ratio is at most residual_small; otherwise say which blocks do and how far the rest go."""
    lo, hi = min(ratios, key=ratios.get), max(ratios, key=ratios.get)
    p = {"lo": f"{ratios[lo]:.2f}", "lo_block": lo, "hi": f"{ratios[hi]:.2f}", "hi_block": hi,
         "limit": f"{th.residual_small:g}"}
    small = [b for b, r in ratios.items() if r <= th.residual_small]
    if len(small) == len(ratios):
        return "read.res.small", p
    if not small:
        return "read.res.large", p
    return "read.res.mixed", {**p, "small": small}


def off_prediction(on_top: tuple[int, str, float], off_top: tuple[int, str, float]) -> Reading:
    """All shortcuts off: the top-1 (index, label, probability) with and without them; "falls apart" only when
    the top-1 class changes. The labels are shown as given (the page passes them in its language)."""
    p = {"on": on_top[1], "p_on": 100 * on_top[2], "off": off_top[1], "p": 100 * off_top[2]}
    return ("read.off.same" if on_top[0] == off_top[0] else "read.off.changed"), p


# ---- Table 1's multiply-adds ---------------------------------------------------------------------------------------
def family_macs(arch: str, macs: int, macs_stride_1x1: int, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """torchvision's multiply-adds of one family member at 224×224 beside Table 1's "FLOPs" (which count
    multiply-adds): a match, or the v1.5 stride placement (3×3 strided) when moving the stride to the first 1×1
    brings the count to the paper's, or a difference it does not explain."""
    paper_g = paper.CLAIMS["paper.he2015.table1"].values[arch.replace("resnet", "r")]
    tv, v1 = macs / 1e9, macs_stride_1x1 / 1e9
    p = {"tv": f"{tv:.2f}", "v1": f"{v1:.2f}", "paper": f"{paper_g:g}"}

    def close(g: float) -> bool:
        return abs(g - paper_g) <= th.macs_match * paper_g

    key = ("read.fam.macs_match" if close(tv) else "read.fam.macs_v15" if close(v1)
           else "read.fam.macs_differ")
    return [paper.claim("paper.he2015.table1"), (key, p)]


# ---- shortcut options ---------------------------------------------------------------------------------------------
def shortcut_options() -> list[Reading]:
    """Which shortcut option each cited number uses: Table 2's ResNets A, torchvision's B, Table 3's A/B/C."""
    return [paper.claim("paper.he2015.table2_option"), paper.claim("paper.torchvision.resnet18"),
            paper.claim("paper.he2015.table3")]


# ---- parameter counts ---------------------------------------------------------------------------------------------
def head_params(classes: int, in_features: int = FC_IN_FEATURES) -> int:
    """Parameters of the fc head: a weight per input feature and class, and a bias per class."""
    return in_features * classes + classes


def param_counts(live_params: int, classes: int) -> Reading:
    """The live count, and the 1000-class ImageNet count computed from it when the head differs."""
    imagenet = live_params - head_params(classes) + head_params(IMAGENET_CLASSES)
    if classes == IMAGENET_CLASSES:
        return "read.params.imagenet", {"params": live_params}
    return "read.params.head", {"params": live_params, "classes": classes, "imagenet": imagenet,
                                "head": head_params(classes), "imagenet_head": head_params(IMAGENET_CLASSES)}


# ---- Integrated Gradients completeness ----------------------------------------------------------------------------
def ig_completeness(gap: float, score_change: float | None = None) -> list[Reading]:
    """Completeness (Sundararajan et al. 2017, eq. 1): the sum of (x − x′) × averaged gradients equals
    F(x) − F(x′); the gap is the measured difference (step error)."""
    out = [paper.claim("paper.sundararajan2017.eq1"), ("read.ig.gap", {"gap": f"{gap:.3g}"})]
    if score_change:
        out.append(("read.ig.gap_share", {"share": 100 * abs(gap) / abs(score_change)}))
    return out


# ---- the output-size formula --------------------------------------------------------------------------------------
def output_size_rule(pool_in: tuple[int, int]) -> Reading:
    """The formula holds for every conv and the max-pool; the adaptive average pool maps any h×w to 1×1."""
    return "read.arch.rule", {"h": pool_in[0], "w": pool_in[1]}


# ---- can the live weights describe this image? --------------------------------------------------------------------
def weights_fit(weights: str, image: str, classes: int) -> list[Reading]:
    """`weights`: 'shapes', 'imagenet', 'random' or 'file'; `image`: 'shape' (a generated sample) or 'photo'
    (a sample photo, an upload, the camera). Says so when the weights cannot describe the image."""
    if weights == "random":
        return [("read.fit.random", {})]
    if weights == "shapes" and image != "shape":
        return [("read.fit.shapes_on_photo", {"classes": classes})]
    if weights == "imagenet" and image == "shape":
        return [("read.fit.imagenet_on_shape", {"classes": classes})]
    return []
