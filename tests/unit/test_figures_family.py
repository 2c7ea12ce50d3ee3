"""The family figures draw the numbers they are given, with the caller's (translated) titles."""

import numpy as np
import pytest

from resnet_viz.experiments import unravel
from resnet_viz.explain.receptive import Box
from resnet_viz.figures import FONT_SIZE
from resnet_viz.figures import family as ff
from resnet_viz.model import family


def test_family_bars_and_table1_carry_the_counts():
    rows = family.compare()
    fig = ff.family_bars(rows, "家族", "参数（百万）", "乘加（G）", "resnet18")
    assert fig.layout.title.text == "家族" and fig.layout.font.size == FONT_SIZE
    assert fig.data[0].y[2] == pytest.approx(25.557032) and fig.data[1].text[1] == "3.66 G"
    t = ff.table1(list(family.family("resnet50").stages), ["a", "b", "c", "d", "e", "f"], "Table 1")
    cells = t.data[0].cells.values
    assert cells[0][1] == "conv2_x" and cells[3][1].endswith("× 3") and cells[4][-1] == "2,049,000"


def test_block_anatomy_labels_each_conv():
    b = {s.name: s for s in family.family("resnet50").blocks}["layer2.0"]
    fig = ff.block_anatomy(b, "t", "投影", "恒等", "相加、ReLU")
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "1×1, 128" in texts and "3×3, 128, /2" in texts and "1×1, 512" in texts and "投影: 1×1, 512, /2" in texts


def test_path_lengths_and_lesion_pair():
    fig = ff.path_lengths({"8": unravel.paths(8).counts}, "t", "x", "y")
    assert sum(fig.data[0].y) == pytest.approx(100) and fig.data[0].y[4] == pytest.approx(100 * 70 / 256)
    fig = ff.lesion_pair(["a", "b"], [0.1, 0.2], [0.7, 0.8], (0.9, 0.85), [False, True],
                         {"plain": "p", "residual": "r", "chance": "c", "downsampling": "d"}, "t", "%", 0.1)
    assert list(fig.data[0].x) == ["a", "b ↓"] and list(fig.data[1].y) == [70, 80]
    assert [s.y0 for s in fig.layout.shapes] == [90, 85, 10]


def test_receptive_field_outlines_the_box():
    grad = np.zeros((32, 32))
    grad[10:20, 10:20] = 1
    fig = ff.receptive_field(np.zeros((32, 32, 3), np.uint8), grad, Box(-5, 2, 30, 37), "t", "box")
    s = fig.layout.shapes[0]
    assert (s.x0, s.x1, s.y0, s.y1) == (1.5, 37.5, -5.5, 30.5)
    fig = ff.conv_contributions(np.array([0.1, -0.5, 0.2]), "t", "x", "y", top=2)
    assert list(fig.data[0].x) == ["1", "2"]
