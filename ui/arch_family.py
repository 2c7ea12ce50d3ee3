"""The Architecture page's family part (He et al. 2015, Table 1, computed from torchvision's builders) and the
shortcut options A/B/C on the live ResNet-18's real tensors at layer2.0."""

from __future__ import annotations

import dataclasses
import functools

import streamlit as st
import torch

from resnet_viz.figures import family as figures_family
from resnet_viz.inputs import images
from resnet_viz.model import family, shortcuts
from resnet_viz.model.architecture import iter_any_blocks
from resnet_viz.text import readings
from ui import keys
from ui.draw import chart
from ui.memo import figure
from ui.text import say, t

OPTIONS_BLOCK = "layer2.0"
OPTIONS_SIZE = 224  # the paper's input size: layer2.0 then turns 64×56×56 into 128×28×28
TABLE1_HEADERS = ("arch.fam.col.paper", "arch.fam.col.tv", "arch.fam.col.out", "arch.fam.col.blocks",
                  "arch.fam.col.params", "arch.fam.col.macs")
KIND_KEYS = {"BasicBlock": "arch.fam.kind.basic", "Bottleneck": "arch.fam.kind.bottleneck"}


def arch_name(arch: str) -> str:
    """resnet50 -> ResNet-50 (the paper's spelling, the same in every language)."""
    return f"ResNet-{arch.removeprefix('resnet')}"


def block_kind(kind: str) -> str:
    return t(KIND_KEYS.get(kind, kind)) if kind in KIND_KEYS else kind


def family_figures(arch: str, fam, rows: list[dict]):
    """The family's bars and the picked member's Table 1 (built once per member, input size and language)."""
    bars = figures_family.family_bars(rows, t("arch.fam.bars_title", h=fam.in_h, w=fam.in_w),
                                      t("arch.fam.params_axis"), t("arch.fam.macs_axis"),
                                      highlight=arch_name(arch))
    head = [t(k) for k in TABLE1_HEADERS]
    stages = [dataclasses.replace(s, paper=t("arch.fam.head_paper")) if s.key == "head" else s for s in fam.stages]
    table = figures_family.table1(stages, head, t("arch.fam.table_title", arch=arch_name(arch), h=fam.in_h,
                                                                        w=fam.in_w))
    # As tall as its rows: a Bottleneck stage lists three convs, a BasicBlock stage two, stem and head one.
    table.update_layout(height=150 + sum(26 * max(len(s.convs), 1) + 14 for s in stages))
    return bars, table


def family_section(height: int, width: int) -> dict:
    """Pick a family member; its Table 1 beside torchvision's names, the family's sizes, its blocks, "why 18"."""
    st.subheader(t("arch.fam.title"))
    st.caption(t("arch.fam.still18"))
    arch = st.selectbox(t("arch.fam.pick"), family.ARCHS, index=0, key=keys.ARCH_FAMILY, format_func=arch_name)
    fam = family.family(arch, height, width)
    rows = [{**r, "arch": arch_name(r["arch"])} for r in family.compare(height, width)]
    bars, table = figure(("arch_family", arch, height, width), lambda: family_figures(arch, fam, rows))
    chart(st, table)
    st.caption(t("arch.fam.table_note"))
    chart(st, bars)
    st.dataframe([{t("arch.fam.c.arch"): r["arch"], t("arch.fam.c.depth"): r["depth"],
                   t("arch.fam.c.blocks"): " + ".join(map(str, r["blocks"])),
                   t("arch.fam.c.kind"): block_kind(r["block"]), t("arch.fam.c.params"): f"{r['params']:,}",
                   t("arch.fam.c.macs"): f"{r['macs'] / 1e9:.2f} G"} for r in rows], hide_index=True,
                 width="stretch")
    paper_size = family.family(arch, 224)  # Table 1 counts at 224×224, whatever the page's input size
    st.markdown(say(readings.family_macs(arch, paper_size.macs, family.macs_stride_on_first_1x1(arch))))
    blocks = block_figures(fam)
    depth_text(fam)
    return {"family": bars, "table1": table, **blocks}


def _spec(arch: str, name: str = OPTIONS_BLOCK):
    return next(b for b in family.family(arch).blocks if b.name == name)


def block_figures(fam) -> dict:
    """BasicBlock (ResNet-18/34) beside Bottleneck (ResNet-50/101/152), both at layer2.0, with what each does."""
    st.markdown(f"#### {t('arch.fam.blocks_title')}")
    out = {}
    cols = st.columns(2)
    for col, arch in zip(cols, ("resnet18", "resnet50"), strict=True):
        spec = _spec(arch)
        fig = figure(("arch_block", arch), lambda spec=spec, arch=arch: figures_family.block_anatomy(
            spec, t("arch.fam.block_title", kind=block_kind(spec.kind), block=spec.name, arch=arch_name(arch)),
            t("arch.fam.shortcut"), t("arch.fam.identity"), t("arch.fam.add")))
        chart(col, fig)
        out[f"block_{arch}"] = fig
        c = spec.convs
        if spec.kind == "Bottleneck":
            col.markdown(t("arch.fam.bottleneck_text", c_in=c[0].in_c, width=c[0].out_c, out=c[-1].out_c,
                           expansion=spec.expansion, params=spec.params, stride_conv=spec.strided_conv))
        else:
            col.markdown(t("arch.fam.basic_text", c_in=c[0].in_c, out=c[-1].out_c, params=spec.params,
                           stride_conv=spec.strided_conv))
    return out


def depth_text(fam) -> None:
    """'Why 18' (or 34, 50…): the weight layers the name counts, and what it leaves out, counted on the model."""
    d = fam.depth
    st.markdown(f"#### {t('arch.fam.why_title', depth=d.depth)}")
    st.markdown(t("arch.fam.why", arch=arch_name(fam.arch), stem=d.stem_convs, blocks=d.blocks, per=d.convs_per_block,
                  block_convs=d.block_convs, fc=d.fc, depth=d.depth, proj=d.projections,
                  proj_params=d.projection_params, bn=d.batchnorms, pools=d.pools, relus=d.relus))


@st.cache_data(max_entries=8, show_spinner=False)
def _options(weights_digest: str, sample: str, _handle):
    """Options A and B at layer2.0 on one sample's real layer1 output (the model is only read)."""
    img = images.resize_for_model(images.load_sample(sample), OPTIONS_SIZE, center_crop=True)
    x = images.to_tensor(img, _handle.mean, _handle.std, OPTIONS_SIZE)
    model = _handle.model
    with _handle.lock, torch.no_grad():
        x = x.to(next(model.parameters()).device)
        h = model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x)))))  # (1, 64, 56, 56)
        opts = shortcuts.compare_options(model, h, OPTIONS_BLOCK)
    a = shortcuts.channel_norms(opts.a_tensor)
    b = shortcuts.channel_norms(opts.b_tensor)
    opts.a_tensor = opts.b_tensor = None  # the norms are what the page draws; keep the cache small
    return opts, a, b


def options_section(handle) -> dict:
    """Options A, B, C at layer2.0: what A and B make of x, what each costs, Table 3, and how the block starts."""
    st.subheader(t("arch.opt.title"))
    sample = images.default_sample(handle.source, images.list_samples())
    opts, a_norms, b_norms = _options(handle.digest, sample, handle)
    shape = "×".join
    st.markdown(t("arch.opt.intro", x=shape(map(str, opts.x.shape)), out=shape(map(str, opts.fx.shape)),
                  size=OPTIONS_SIZE))
    costs = shortcuts.option_costs(handle.model)
    m = st.columns(4)
    m[0].metric(t("arch.opt.m.x"), shape(map(str, opts.x.shape)))
    quiet = {"delta_color": "off", "delta_arrow": "off"}  # a cost, not a change
    m[1].metric(t("arch.opt.m.a"), shape(map(str, opts.a.shape)), t("arch.opt.m.a_cost"), **quiet)
    m[2].metric(t("arch.opt.m.b"), shape(map(str, opts.b.shape)),
                t("arch.opt.m.b_cost", n=opts.params_b_conv + opts.params_b_bn), **quiet)
    m[3].metric(t("arch.opt.m.c"), f"{costs.params_c:,}", t("arch.opt.m.c_cost", n=costs.extra_c), **quiet)
    c_in = opts.x.shape[0]
    st.markdown(t("arch.opt.a_text", c_in=c_in, out=opts.a.shape[0], zero=opts.a.zero_channels,
                  h=opts.x.shape[1], h2=opts.a.shape[1]))
    st.markdown(t("arch.opt.b_text", c_in=c_in, out=opts.b.shape[0], conv=opts.params_b_conv,
                  bn=opts.params_b_bn, zero=opts.b.zero_channels,
                  same=t("arch.opt.same_yes" if opts.b_reads_only_strided_pixels else "arch.opt.same_no")))
    st.markdown(t("arch.opt.c_text", blocks=costs.blocks, proj=costs.projections_b, b=costs.params_b,
                  c=costs.params_c, extra=costs.extra_c, total=costs.model_params,
                  share=100 * costs.extra_c / costs.model_params))
    fig = figure(("arch_options", handle.digest, sample), lambda: figures_family.shortcut_channels(
        a_norms, b_norms, (t("arch.opt.legend_a"), t("arch.opt.legend_b")),
        t("arch.opt.fig_title", block=OPTIONS_BLOCK), t("arch.opt.fig_x"), t("arch.opt.fig_y")))
    chart(st, fig)
    st.markdown(say(readings.shortcut_options()))
    main_path_text(handle)
    return {"shortcut_options": fig}


@functools.lru_cache(maxsize=1)
def _bottleneck_start():
    return shortcuts.main_path_start(family.build("resnet50"), OPTIONS_BLOCK)  # meta device: shapes only


def main_path_text(handle) -> None:
    """How layer2.0's main path starts, read off the live model, beside a Bottleneck's (ResNet-50)."""
    blocks = dict(iter_any_blocks(handle.model))
    if OPTIONS_BLOCK not in blocks:
        return
    live = shortcuts.main_path_start(handle.model, OPTIONS_BLOCK)
    deep = _bottleneck_start()
    key = "arch.opt.main_1x1" if live.main_starts_with_1x1 else "arch.opt.main_3x3"
    st.markdown(t(key, block=live.block, k=live.main_first_kernel, s=live.main_first_stride,
                  sk=live.shortcut_kernel, ss=live.shortcut_stride,
                  kernels=" → ".join(f"{k}×{k}" for k in live.main_kernels)))
    st.markdown(t("arch.opt.bottleneck_start", kernels=" → ".join(f"{k}×{k}" for k in deep.main_kernels),
                  strides=" → ".join(map(str, deep.main_strides))))
