"""What the papers say, as cited data: source, section/figure/table, and the numbers the paper prints."""

# The app's words about a paper come from here (through a locale key per claim), so a number is written once
# and the README's "Which claim comes from where" table can be checked against it.

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Claim:
    """One cited claim. `key` is its locale key; `values` fill that text's placeholders."""

    key: str
    source: str  # short reference: "He et al. 2015"
    where: str  # section, figure, table or equation in that source
    values: dict = field(default_factory=dict)


HE2015 = "He et al. 2015, Deep Residual Learning for Image Recognition (CVPR 2016)"
VEIT2016 = "Veit et al. 2016, Residual Networks Behave Like Ensembles of Relatively Shallow Networks (NeurIPS)"
SUNDARARAJAN2017 = "Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks (ICML)"
BALDUZZI2017 = "Balduzzi et al. 2017, The Shattered Gradients Problem (ICML)"
YANG2019 = "Yang et al. 2019, A Mean Field Theory of Batch Normalization (ICLR)"
TORCHVISION = "torchvision ResNet18_Weights.IMAGENET1K_V1 (weights metadata)"

CLAIMS: dict[str, Claim] = {c.key: c for c in (
    # Degradation: the deeper plain net has the higher training error, at full training.
    Claim("paper.he2015.fig1", HE2015, "Fig. 1", {"shallow": 20, "deep": 56}),
    Claim("paper.he2015.table2", HE2015, "Table 2 / Fig. 4",
          {"plain18": 27.94, "plain34": 28.54, "res18": 27.88, "res34": 25.03}),
    Claim("paper.he2015.table2_option", HE2015, "§4.1, Table 2", {"option": "A"}),
    Claim("paper.he2015.table3", HE2015, "§3.3, §4.1, Table 3", {"a": 25.03, "b": 24.52, "c": 24.19}),
    Claim("paper.he2015.table6", HE2015, "Table 6", {"res20": 8.75, "res56": 6.97}),
    Claim("paper.he2015.healthy", HE2015, "§4.1", {}),
    Claim("paper.torchvision.resnet18", TORCHVISION, "acc@1", {"acc": 69.758, "err": 30.242, "params": 11_689_512}),
    # Fig. 3: ResNet-110 on CIFAR-10; Fig. 4: ResNet-200 on ImageNet, where downsampling modules matter more.
    Claim("paper.veit2016.fig3", VEIT2016, "§4, Fig. 3", {}),
    Claim("paper.veit2016.fig4", VEIT2016, "§4, Fig. 4", {}),
    # Table 1's "FLOPs" (×10⁹, 224×224) are multiply-adds.
    Claim("paper.he2015.table1", HE2015, "Table 1", {"r18": 1.8, "r34": 3.6, "r50": 3.8, "r101": 7.6, "r152": 11.3}),
    Claim("paper.sundararajan2017.eq1", SUNDARARAJAN2017, "§3, eq. 1", {}),
    Claim("paper.balduzzi2017", BALDUZZI2017, "abstract", {}),
    Claim("paper.yang2019", YANG2019, "abstract", {}),
)}


def claim(key: str) -> tuple[str, dict]:
    """A claim as a reading: (locale key, its numbers)."""
    c = CLAIMS[key]
    return c.key, dict(c.values)
