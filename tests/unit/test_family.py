"""The ResNet family from torchvision's builders: Table 1, the depth in the name, parameters and multiply-adds
checked against the models' own parameters and against a real forward pass counted with hooks."""

import pytest
import torch
from torch import nn

from resnet_viz.__main__ import main
from resnet_viz.model import family


def test_published_figures_at_224():
    # torchvision's model docs: 11.7 M / 1.81 GFLOPS, 21.8 M / 3.66, 25.6 M / 4.09 (multiply-adds).
    got = {r["arch"]: (r["params"], round(r["macs"] / 1e9, 2)) for r in family.compare(224)}
    assert got["resnet18"] == (11_689_512, 1.81)
    assert got["resnet34"] == (21_797_672, 3.66)
    assert got["resnet50"] == (25_557_032, 4.09)
    assert got["resnet101"] == (44_549_160, 7.80)
    assert got["resnet152"] == (60_192_808, 11.51)


@pytest.mark.parametrize("arch", family.ARCHS)
def test_params_equal_the_model_and_depth_is_the_name(arch):
    model = family.build(arch)  # meta device: shapes only
    f = family.family(arch)
    assert f.params == sum(p.numel() for p in model.parameters())
    assert f.depth.depth == int(arch.removeprefix("resnet"))


def test_why_18():
    d = family.family("resnet18").depth
    # 1 stem conv + 8 BasicBlocks x 2 convs + 1 fc = 18; the 3 projections, 20 BN and 2 pools are not counted.
    assert (d.stem_convs, d.blocks, d.convs_per_block, d.block_convs, d.fc) == (1, 8, 2, 16, 1)
    assert (d.projections, d.batchnorms, d.pools) == (3, 20, 2)
    # layer2.0 / 3.0 / 4.0 downsample: 1x1 conv C_in*C_out + BN 2*C_out.
    assert d.projection_params == (64 * 128 + 256) + (128 * 256 + 512) + (256 * 512 + 1024) == 173_824
    d50 = family.family("resnet50").depth
    assert (d50.blocks, d50.convs_per_block, d50.projections) == (16, 3, 4)  # 1 + 48 + 1 = 50
    assert (family.family("resnet101").depth.blocks, family.family("resnet152").depth.blocks) == (33, 50)


def test_table1_rows():
    blocks = {r["arch"]: r["blocks"] for r in family.compare()}
    assert blocks == {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3], "resnet50": [3, 4, 6, 3],
                      "resnet101": [3, 4, 23, 3], "resnet152": [3, 8, 36, 3]}
    s18 = {s.paper: s for s in family.family("resnet18").stages}
    assert (s18["conv1"].out_c, s18["conv1"].out_h) == (64, 112)  # Table 1: conv1 112x112, 7x7, 64, stride 2
    assert (s18["conv2_x"].out_h, s18["conv2_x"].torchvision) == (56, "maxpool, layer1")
    assert s18["conv5_x"].convs == ((3, 512), (3, 512)) and s18["conv5_x"].out_h == 7
    s50 = {s.paper: s for s in family.family("resnet50").stages}
    assert s50["conv3_x"].convs == ((1, 128), (3, 128), (1, 512)) and s50["conv5_x"].out_c == 2048
    assert sum(s.params for s in s50.values()) == 25_557_032


def test_bottleneck_anatomy():
    b = {s.name: s for s in family.family("resnet50").blocks}["layer2.0"]
    assert b.kind == "Bottleneck" and b.expansion == 4
    assert [(c.kernel, c.stride, c.in_c, c.out_c) for c in b.convs] == [(1, 1, 256, 128), (3, 2, 128, 128),
                                                                      (1, 1, 128, 512)]
    assert b.strided_conv == "conv2"  # torchvision puts the stride on the 3x3 ("ResNet v1.5")
    assert (b.shortcut.kernel, b.shortcut.stride, b.shortcut.params) == (1, 2, 256 * 512)
    basic = {s.name: s for s in family.family("resnet18").blocks}["layer2.0"]
    assert basic.kind == "BasicBlock" and basic.expansion == 1 and basic.strided_conv == "conv1"


def _hook_count(model: nn.Module, x: torch.Tensor) -> tuple[int, dict]:
    """Multiply-adds from a real forward: each conv/linear's output numel x its weights per output."""
    macs, shapes = [0], {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            def hook(mod, inp, out, name=name):
                per_out = mod.weight[0].numel()  # C_in/groups * k * k, or in_features
                macs[0] += out.numel() // out.shape[1] * mod.weight.shape[0] * per_out
                shapes[name] = tuple(out.shape[1:])
            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return macs[0], shapes


@pytest.mark.parametrize("arch,size", [("resnet18", (224, 224)), ("resnet50", (65, 97))])
def test_macs_and_shapes_match_a_real_forward(arch, size):
    torch.manual_seed(0)
    model = family.build(arch, num_classes=10, device="cpu").eval()
    macs, shapes = _hook_count(model, torch.randn(1, 3, *size))
    f = family.family(arch, *size, num_classes=10)
    assert f.macs == macs
    for r in f.table.rows:
        if r.kind == "Conv2d":
            assert (r.out_c, r.out_h, r.out_w) == shapes[r.name], r.name


def test_cli_prints_the_table_and_the_count(capsys):
    assert main(["shapes", "--arch", "resnet50", "--size", "224"]) == 0
    out = capsys.readouterr().out
    assert "25,557,032" in out and "4.09 G" in out and "conv3_x" in out and "layer4.2" in out
    assert main(["shapes", "--arch", "resnet9"]) == 2
    assert "resnet152" in capsys.readouterr().err
