"""Words from numbers: measured results in, readings out — a reading is (locale key, params), never prose."""

# Every threshold that turns a number into a word is in THRESHOLDS, one frozen dataclass. A param may itself be
# a reading (a nested (key, params) tuple); i18n.render() translates it in place. Claims about papers come from
# paper.CLAIMS with their section, figure or table. This module holds the thresholds, number words and the
# readings of the model itself (Grad-CAM grid, architecture, weights); readings_lab.py reads the experiments.

from __future__ import annotations

import math
from dataclasses import dataclass

from resnet_viz.model.layers import fact
from resnet_viz.text import paper

__all__ = ["FC_IN_FEATURES", "IMAGENET_CLASSES", "THRESHOLDS", "Reading",
           "Thresholds", "gradcam_grid", "head_params", "ig_completeness", "magnitude",
           "output_size_rule", "param_counts", "shortcut_options", "times", "weights_fit"]

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


THRESHOLDS = Thresholds()

# ---- number words --------------------------------------------------------------------------------------------
_MAGNITUDES = ((10, "read.mag.few"), (100, "read.mag.tens"), (1_000, "read.mag.hundreds"),
               (10_000, "read.mag.thousands"), (100_000, "read.mag.tens_of_thousands"))


def magnitude(r: float) -> Reading:
    """'a few times', 'tens of times', … 'tens of thousands of times' for a factor r >= 1."""
    for bound, key in _MAGNITUDES:
        if r < bound:
            return key, {}
    return "read.mag.more", {}


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
