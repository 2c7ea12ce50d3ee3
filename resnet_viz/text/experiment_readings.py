"""Readings of the experiments: the lesion study, gradient flow at initialisation, the degradation run, the
plain/residual twins, unraveled paths and the gradient split — (locale key, params), never prose.
"""

from __future__ import annotations

import math

from resnet_viz.model.layers import DOWNSAMPLING_BLOCKS
from resnet_viz.text import paper
from resnet_viz.text.readings import THRESHOLDS, Reading, Thresholds, magnitude, times

__all__ = ["DEGRADATION_VERDICTS", "activation", "degradation", "degradation_of", "degradation_title",
           "evaluation_set", "grad_question", "grad_split", "gradflow_init", "lesion", "lesion_answer", "sample_counts",
           "shattered", "twin_lesion", "unraveled"]


# ---- items 2 and 3: the lesion study ----------------------------------------------------------------------------
def evaluation_set(data: str, n: int, n_photos: int = 0, n_shapes: int = 0, image_size: int = 0,
                   th: Thresholds = THRESHOLDS) -> list[Reading]:
    """Name the evaluation set honestly (held-out shapes, photos only, or samples that mix photos and shapes),
    and say when it is too small to compare with a paper: one image is 100/n points."""
    if data == "shapes":
        out = [("read.set.shapes", {"n": n, "size": image_size})]
    elif n_shapes == 0:
        out = [("read.set.photos", {"n": n})]
    else:
        out = [("read.set.samples", {"n": n, "photos": n_photos, "shapes": n_shapes})]
    if n < th.few_images:
        out.append(("read.set.too_few", {"n": n, "points": 100 / max(n, 1)}))
    return out


def sample_counts(samples: list) -> tuple[int, int]:
    """(photos, generated shapes) among images.Sample entries: a generated shape carries its object mask."""
    shapes = sum(s.mask is not None for s in samples)
    return len(samples) - shapes, shapes


def _skill(intact: float, chance: float) -> float:
    return max(intact - chance, 1e-9)


def lesion(values: dict[str, float], metric: str, chance: float, n: int,
           th: Thresholds = THRESHOLDS) -> list[Reading]:
    """The lesion study read from its numbers (lesion.LesionResult.values: variant key -> [0, 1]).

    Judges removing one residual branch by the mean AND the worst block, names the downsampling blocks and
    how they fare, cites what Veit et al. 2016 found (and compares only when n is large enough), and says
    whether removing one shortcut harms more or less than removing one branch — no explanation of why.
    """
    pct = {k: 100 * v for k, v in values.items()}
    branch = {k.split(":", 1)[1]: v for k, v in pct.items() if k.startswith("no_branch:")}
    shortcut = {k.split(":", 1)[1]: v for k, v in pct.items() if k.startswith("no_shortcut:")}
    intact, chance_pct = pct["intact"], 100 * chance
    skill = _skill(intact, chance_pct)
    b_mean = sum(branch.values()) / len(branch)
    out: list[Reading] = [("read.lesion.intact", {"intact": intact}) if metric == "accuracy"
                          else ("read.lesion.intact_agree", {})]
    out.append(_lesion_branch(branch, intact, skill, th))
    out += _lesion_downsampling(branch, intact, skill, n, th)
    out.append(_lesion_shortcut(shortcut, b_mean, skill, th))
    all_off = pct["no_shortcuts"]
    if all_off - chance_pct <= th.collapse * skill:
        out.append(("read.lesion.collapse", {"all_off": all_off, "chance": chance_pct}))
        out.append(("read.lesion.not_plain", {}))
    else:
        out.append(("read.lesion.survive", {"all_off": all_off, "chance": chance_pct}))
    return out


def _lesion_branch(branch: dict[str, float], intact: float, skill: float, th: Thresholds) -> Reading:
    """Removing one residual branch, judged by the mean AND the worst block (in percent)."""
    b_mean = sum(branch.values()) / len(branch)
    worst = min(branch, key=branch.get)
    b = {"mean": b_mean, "worst": worst, "worst_value": branch[worst]}
    mean_small = intact - b_mean <= th.lesion_small * skill
    worst_small = intact - branch[worst] <= th.lesion_small * skill
    if mean_small and worst_small:
        return ("read.lesion.branch_small", b)
    if intact - b_mean <= th.lesion_large * skill:
        return ("read.lesion.branch_uneven", b)
    return ("read.lesion.branch_large", b)


def _lesion_downsampling(branch: dict[str, float], intact: float, skill: float, n: int,
                         th: Thresholds) -> list[Reading]:
    """How the downsampling blocks fare against the others, then Veit et al.'s finding (compared when n allows)."""
    out: list[Reading] = []
    down = {blk: branch[blk] for blk in DOWNSAMPLING_BLOCKS if blk in branch}
    others = {blk: v for blk, v in branch.items() if blk not in down}
    if down and others:
        others_worst = min(others, key=others.get)
        d = {"l2": down.get("layer2.0", math.nan), "l3": down.get("layer3.0", math.nan),
             "l4": down.get("layer4.0", math.nan), "others_mean": sum(others.values()) / len(others),
             "others_worst": others_worst, "others_worst_value": others[others_worst]}
        out.append(("read.lesion.down_worse" if min(down.values()) < others[others_worst]
                    else "read.lesion.down_not_worse", d))
    out += [paper.claim("paper.veit2016.fig3"), paper.claim("paper.veit2016.fig4")]
    if n >= th.few_images and down and others:
        # Veit et al.'s pattern: the non-downsampling blocks cost little, the downsampling ones cost more.
        others_small = all(intact - v <= th.lesion_small * skill for v in others.values())
        pattern = others_small and min(down.values()) < min(others.values())
        out.append(("read.lesion.veit_same" if pattern else "read.lesion.veit_differs", {}))
    return out


def lesion_answer(values: dict[str, float], metric: str, n: int) -> Reading:
    """The Lecture's answer to "which block can you delete?": every block tied for the least harm and for the most
    (values within half an image of each other count as tied), and on photos how many there are and how many
    points one photo moves a bar."""
    branch = {k.split(":", 1)[1]: 100 * v for k, v in values.items() if k.startswith("no_branch:")}
    tie = 50 / max(n, 1)  # half an image, in percent
    best_v, worst_v = max(branch.values()), min(branch.values())
    p = {"best": [b for b, v in branch.items() if best_v - v < tie], "best_value": best_v,
         "worst": [b for b, v in branch.items() if v - worst_v < tie], "worst_value": worst_v,
         "down": list(DOWNSAMPLING_BLOCKS), "n": n, "points": 100 / max(n, 1)}
    return ("lec.lesion.answer" if metric == "accuracy" else "lec.lesion.answer_photos"), p


def _lesion_shortcut(shortcut: dict[str, float], b_mean: float, skill: float, th: Thresholds) -> Reading:
    """Whether removing one shortcut harms more or less than removing one branch (b_mean) — no why."""
    s_mean = sum(shortcut.values()) / len(shortcut)
    worst_s = min(shortcut, key=shortcut.get)
    s = {"mean": s_mean, "worst": worst_s, "worst_value": shortcut[worst_s], "branch_mean": b_mean}
    if abs(s_mean - b_mean) <= th.lesion_same * skill:
        return ("read.lesion.shortcut_same", s)
    if s_mean > b_mean:
        return ("read.lesion.shortcut_less_harm", s)
    return ("read.lesion.shortcut_more_harm", s)


# ---- items 4 and 10: gradient flow at initialisation -------------------------------------------------------------
# (flat, grows, fades) keys: a sentence of its own, or a clause inside read.gf.compare.
GRADIENT_KEYS = ("read.gf.grad_keeps", "read.gf.grad_grows", "read.gf.grad_fades")
CHANGE_KEYS = ("read.gf.change_flat", "read.gf.change_grows", "read.gf.change_fades")


def _gradient(r: float, th: Thresholds, keys: tuple[str, str, str] = GRADIENT_KEYS) -> Reading:
    """How the gradient changes from the last layer to the first (ratio r), with the factor."""
    flat, grows, fades = keys
    if 1 / th.grad_flat <= r <= th.grad_flat:
        return flat, {"ratio": f"{r:.2g}"}
    if r > th.grad_flat:
        return grows, {"times": times(r), "mag": magnitude(r)}
    return fades, {"times": times(1 / r), "mag": magnitude(1 / r, down=True)}


def activation(a0: float, a1: float, th: Thresholds = THRESHOLDS) -> Reading:
    """The forward signal's std from the first to the last layer: keeps its scale only within act_keep."""
    p = {"a0": f"{a0:.2g}", "a1": f"{a1:.3g}"}
    r = a1 / a0 if a0 > 0 else math.inf
    if 1 / th.act_keep <= r <= th.act_keep:
        return "read.gf.fwd_keeps", p
    if r > th.act_extreme:
        return "read.gf.fwd_blows", p
    if r < 1 / th.act_extreme:
        return "read.gf.fwd_fades", p
    return ("read.gf.fwd_grows" if r > 1 else "read.gf.fwd_shrinks"), p


def gradflow_init(norms: dict, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """One reading per network of a compare_init result (variant -> gradnorms.LayerNorms), then, with both a plain
    and a residual stack, their ratios side by side, and when a BatchNorm plain stack explodes at
    initialisation, how that sits beside He et al.'s 'healthy norms'."""
    out: list[Reading] = []
    for n in norms.values():
        cfg = n.config
        what = ("read.gf.bn_with" if cfg.batchnorm else "read.gf.bn_without", {"label": cfg.label})
        line = {"what": what, "grad": _gradient(n.output_ratio, th),
                "fwd": activation(n.activation_std[0], n.activation_std[-1], th)}
        out.append(("read.gf.line", line))
        w, r = n.weight_ratio, n.output_ratio
        if 0 < w < math.inf and max(w, r) > 10 * min(w, r):
            out.append(("read.gf.weight_ratio", {"w": times(w)}))
        if cfg.residual and cfg.zero_init_residual:
            out.append(("read.gf.zero_init", {}))
    plain = next((n for n in norms.values() if not n.config.residual), None)
    res = next((n for n in norms.values() if n.config.residual), None)
    if plain is not None and res is not None:
        p, q = plain.output_ratio, res.output_ratio
        out.append(("read.gf.compare", {"res": res.config.label, "res_change": _gradient(q, th, CHANGE_KEYS),
                                        "plain": plain.config.label, "plain_change": _gradient(p, th, CHANGE_KEYS)}))
    if plain is not None and plain.config.batchnorm and plain.output_ratio >= th.grad_explodes:
        out.append(("read.gf.healthy_norms", {"label": plain.config.label, "times": times(plain.output_ratio)}))
    return out


def grad_question(norms: dict, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """The Lecture's answer to "do shortcuts cure vanishing gradients?" from a compare_init result with a plain
    and a residual stack: whether the plain stack's gradient explodes (B), vanishes (A) or keeps its size (C),
    then, for an explosion, both halves of B: it explodes, and whether the shortcuts tame it (residual ratio
    within grad_flat), only cut it (plain / residual >= grad_tamed, and it still grows) or leave it."""
    plain, res = norms["plain"], norms["residual"]
    r, q = plain.output_ratio, res.output_ratio
    p = {"plain": plain.config.label, "residual": res.config.label, "option": res.config.shortcut,
         "p": times(max(r, 1 / r)), "r": times(q)}
    if r < 1 / th.grad_flat:
        return [("lec.grad.verdict_fades", p)]
    if r <= th.grad_flat:
        return [("lec.grad.verdict_flat", p)]
    if q <= th.grad_flat:
        tamed = "lec.grad.tamed"
    elif r / q >= th.grad_tamed:
        tamed = "lec.grad.cut"
    else:
        tamed = "lec.grad.not_tamed"
    return [("lec.grad.verdict_grows", p), (tamed, p)]


def shattered(correlations: dict[str, list[float]], th: Thresholds = THRESHOLDS) -> list[Reading]:
    """Per network, the neighbours' gradient correlation (lag 1): 'like white noise' only below shatter_noise."""
    out = []
    for label, values in correlations.items():
        c = values[0]
        key = ("read.gf.shatter_noise" if c < th.shatter_noise else
               "read.gf.shatter_smooth" if c > th.shatter_smooth else "read.gf.shatter_partial")
        out.append((key, {"label": label, "c": c}))
    return out


# ---- degradation, one threshold, one reading ----------------------------------------------------------------------
DEGRADATION_VERDICTS = ("read.deg.shows", "read.deg.both_worse", "read.deg.plain_not_worse", "read.deg.not_learning")


def degradation(final_losses: dict[str, float], steps: int, th: Thresholds = THRESHOLDS,
                chance: float | None = None) -> list[Reading]:
    """Exactly one verdict on a short run (final training loss per 'plain-8', 'residual-32', …), labelled with
    its step count, then the paper's converged numbers as cited data beside it. With `chance` (ln K, a uniform
    guess's loss) a deep plain net still at near_chance × chance or above has barely started learning: that is
    said instead of calling the plain-worse, residual-not-worse run degradation."""
    groups: dict[str, list[tuple[int, float]]] = {}
    for name, loss in final_losses.items():
        kind, depth = name.rsplit("-", 1)
        groups.setdefault(kind, []).append((int(depth), loss))
    if set(groups) != {"plain", "residual"} or any(len(v) != 2 for v in groups.values()):
        raise ValueError("a degradation run needs a shallow and a deep plain and residual net")
    (ps, p_shallow), (pd, p_deep) = sorted(groups["plain"])
    (_, r_shallow), (_, r_deep) = sorted(groups["residual"])
    p = {"steps": steps, "shallow": ps, "deep": pd, "p_shallow": p_shallow, "p_deep": p_deep,
         "r_shallow": r_shallow, "r_deep": r_deep}
    plain_worse = p_deep > p_shallow + th.loss_margin
    res_worse = r_deep > r_shallow + th.loss_margin
    if chance and plain_worse and not res_worse and p_deep >= th.near_chance * chance:
        verdict = "read.deg.not_learning"
        p.update(chance=chance, k=round(math.exp(chance)))
    elif plain_worse and not res_worse:
        verdict = "read.deg.shows"
    elif plain_worse:
        verdict = "read.deg.both_worse"
    else:
        verdict = "read.deg.plain_not_worse"
    return [(verdict, p), paper.claim("paper.he2015.fig1"), paper.claim("paper.he2015.table2")]


def degradation_of(result, chance: float | None = None) -> list[Reading]:
    """degradation() of a degradation.TrainResult: final losses per net, at the last step the run reached (a
    stopped run is read at its own step count); `chance` is a uniform guess's loss (degradation.chance_loss)."""
    steps = max((c.steps[-1] for c in result.curves.values() if c.steps), default=0)
    return degradation({k: c.final_loss for k, c in result.curves.items()}, steps, chance=chance)


def degradation_title(steps: int) -> Reading:
    """The live run's figure title, with its step count: a short run, not the paper's full training."""
    return "read.deg.title", {"steps": steps}


# ---- p-gf-lab: unraveled paths, the plain/residual twins' lesion, the gradient through the identity path ----------
def unraveled(pc, share: float = 0.95) -> Reading:
    """n blocks unravel into 2^n paths (Veit et al. 2016, §3) whose lengths follow Binomial(n, 1/2): the mean
    length and the central range [lo, hi] that holds at least `share` of them. `pc` is unravel.paths(n)."""
    n = pc.n
    k = 0
    while pc.share_within(k) < share:
        k += 1
    lo, hi = math.ceil(pc.mean - k), math.floor(pc.mean + k)
    return "read.paths.count", {"n": n, "total": f"{pc.total:,}", "mean": f"{pc.mean:g}", "lo": lo, "hi": hi,
                                "share": 100 * pc.share_within(k)}


_TWIN_KEYS = {("plain", True): "read.twin.plain_chance", ("plain", False): "read.twin.plain_drop",
              ("residual", True): "read.twin.residual_chance", ("residual", False): "read.twin.residual_drop"}


def twin_lesion(pair, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """The shipped plain net and its residual twin (unravel.LesionPair), each with one block deleted: how far
    each falls, judged on its own skill above chance, and whether the residual twin is the more robust one."""
    out: list[Reading] = []
    chance = 100 * pair.chance
    retained = {}
    for which, intact, deleted in (("plain", pair.plain_intact, pair.plain_deleted),
                                   ("residual", pair.residual_intact, pair.residual_deleted)):
        pct = [100 * d for d in deleted]
        mean = sum(pct) / len(pct)
        i_worst = min(range(len(pct)), key=pct.__getitem__)
        skill = _skill(100 * intact, chance)
        retained[which] = (mean - chance) / skill
        p = {"intact": 100 * intact, "mean": mean, "worst": pair.blocks[i_worst], "worst_value": pct[i_worst],
             "best_value": max(pct), "chance": chance, "n": pair.n}
        near = mean - chance <= th.collapse * skill
        out.append((_TWIN_KEYS[which, near], p))
    gap = retained["residual"] - retained["plain"]
    if retained["residual"] >= 1 - th.lesion_large:
        out.append(("read.twin.residual_robust", {}))
    elif gap > th.lesion_large:
        out.append(("read.twin.residual_better", {}))
    else:
        out.append(("read.twin.residual_not_robust", {}))
    return out


def grad_split(rows, mask: tuple[bool, ...] | None = None, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """Per-block split of dL/dx (gradpaths.BlockGrad rows): the share of norms |shortcut| / (|shortcut| +
    |branch|) over the blocks whose shortcut is on, its highest and lowest block, and the cosines between the two
    parts (their norms add up to the total's only when they point the same way); projection shortcuts named (not
    the 1 of eq. 5), and the blocks running without a shortcut."""
    on = [r for i, r in enumerate(rows) if mask is None or mask[i]]
    off = [r.block for i, r in enumerate(rows) if mask is not None and not mask[i]]
    out: list[Reading] = []
    if on:
        hi, lo = max(on, key=lambda r: r.identity_share), min(on, key=lambda r: r.identity_share)
        cos = [r.cosine for r in on]
        key = "read.gpath.share_aligned" if min(cos) >= th.aligned_cos else "read.gpath.share"
        out.append((key, {"n": len(on), "mean": 100 * sum(r.identity_share for r in on) / len(on),
                          "hi": hi.block, "hi_value": 100 * hi.identity_share, "lo": lo.block,
                          "lo_value": 100 * lo.identity_share, "cmin": min(cos), "cmax": max(cos)}))
        proj = [r.block for r in on if r.projection]
        if proj:
            out.append(("read.gpath.projection", {"blocks": proj}))
    if off:
        out.append(("read.gpath.off", {"blocks": off}) if on else ("read.gpath.all_off", {}))
    return out
