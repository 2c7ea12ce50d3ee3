"""Locale files: every key the code asks for exists in both languages, every key is used, placeholders match;
the Chinese scan finds no English in any zh.json value nor in any figure drawn with Chinese labels."""

import re
import string
from pathlib import Path

import pytest

from resnet_viz.explain import tiles
from resnet_viz.text import i18n
from tests.zh_words import english_words

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py")),
           *sorted((ROOT / "resnet_viz").rglob("*.py"))]
# t("key"...) or t('key'...), with or without a module prefix (ui.t, i18n.t).
CALL = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
LITERAL = re.compile(r"""["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def _code() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in SOURCES if p.exists())


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_the_scan_finds_calls():
    assert CALL.findall('x = t("lab.title") + ui.t(\'nav.home\', n=1)') == ["lab.title", "nav.home"]


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_every_key_used_in_the_code_exists(lang):
    used = set(CALL.findall(_code()))
    assert len(used) > 50
    missing = sorted(used - set(i18n.texts(lang)))
    assert not missing, f"{lang}.json lacks {missing}"


def test_both_languages_have_the_same_keys_and_placeholders():
    en, zh = i18n.texts("en"), i18n.texts("zh")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
        assert zh[key].strip(), key


def test_no_key_is_unused():
    # A key counts as used when it appears as a string literal (t("...") or a table of keys feeding t()).
    literals = set(LITERAL.findall(_code()))
    unused = sorted(set(i18n.texts("en")) - literals)
    assert not unused, f"keys no code refers to: {unused}"


def test_t_fills_placeholders_and_falls_back():
    assert i18n.t("lec.step", "en", i=2, n=8) == "Step 2 of 8"
    assert i18n.t("lec.step", "zh", i=2, n=8) == "第 2 步，共 8 步"
    assert i18n.t("no.such.key", "zh") == "no.such.key"
    with pytest.raises(ValueError, match="Unknown language"):
        i18n.t("lec.step", "fr")


def test_chinese_has_no_fake_italics():
    # Browsers slant CJK glyphs artificially for *emphasis*, which reads badly; the Chinese uses bold instead.
    italic_cjk = re.compile(r"(?<!\*)\*(?!\*)[^*]*[\u4e00-\u9fff][^*]*(?<!\*)\*(?!\*)")
    bad = {k: v for k, v in i18n.texts("zh").items() if italic_cjk.search(v.replace("**", "")) or "***" in v}
    assert not bad, bad


# ---- readings rendered -----------------------------------------------------------------------------------
def test_render_fills_nested_readings_in_both_languages():
    reading = ("read.gf.grad_grows", {"times": "13,770", "mag": ("read.mag.tens_of_thousands", {})})
    assert i18n.render(reading, "en") == ("the gradient grows toward the input: the first layer's is 13,770× the "
                                          "last layer's (more than ten-thousandfold)")
    assert "13,770 倍" in i18n.render(reading, "zh") and "万倍以上" in i18n.render(reading, "zh")
    # 倍 is the ratio itself (增大到原来的 N 倍), a decrease is 1/N: never 增大了 N 倍 or 小了几倍.
    grows = ("read.gf.change_grows", {"times": "36.9", "mag": ("read.mag.tens", {})})
    fades = ("read.gf.change_fades", {"times": "12.3", "mag": ("read.mag.down_tens", {})})
    assert i18n.render(grows, "zh") == "增大到原来的 36.9 倍（十倍以上）"
    assert i18n.render(fades, "zh") == "缩小到原来的 1/12.3（不到原来的十分之一）"
    assert "了" not in i18n.render(grows, "zh") + i18n.render(fades, "zh")
    two = [("read.ig.gap", {"gap": "0.01"}), ("read.ig.gap_share", {"share": 2.0})]
    assert i18n.join(two, "en") == "Completeness gap here: 0.01. That is 2% of the score change."
    assert i18n.join(two, "zh") == "此处的完备性误差：0.01。相当于得分变化量的 2%。"


# ---- the Chinese scan ------------------------------------------------------------------------------------
def test_the_scan_flags_english_and_allows_names_units_and_symbols():
    assert english_words("梯度向输入方向急剧增大 (the gradient grows)") == ["the", "gradient", "grows"]
    assert english_words("第 8 类 uniform guess") == ["uniform", "guess"]
    ok = ("layer3.1 的 conv1、bn1、downsample 与 ReLU；plain-56 和 residual-20；ResNet-18 在 ImageNet 上；"
          "Grad-CAM（Selvaraju 等人）；F(x) + x；128×128 像素，12 KB，3 ms；{label}；`python -m resnet_viz`；"
          "《Deep Residual Learning for Image Recognition》；layer2.0.downsample.0")
    assert english_words(ok) == []
    assert english_words("tabby 猫", extra={"tabby"}) == []
    assert english_words("把 resnet18-f37072fd.pth 放到 $TORCH_HOME/hub/checkpoints/ 或 assets/shapes") == []
    assert english_words("第一层 first/last 最后一层") == ["first", "last"]


def test_no_english_in_any_chinese_text():
    # The shapes classes have Chinese names (class.*) and the weights name "shapes" is 合成图形: neither is allowed
    # here; ImageNet's labels (tabby in the search hint) stay data.
    leaks = {k: w for k, v in i18n.texts("zh").items() if (w := english_words(v, extra={"tabby"}))}
    assert not leaks, leaks


def _figure_texts(fig) -> list[str]:
    """Every text a plotly figure shows: titles, axis and colour-bar titles, legend names, annotations,
    tick texts and hover templates."""
    out: list[str] = []

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and key in {"text", "name", "ticktext", "hovertemplate"}:
            out.append(re.sub(r"%\{[^}]*\}|<[^>]*>", " ", node))

    walk(fig.to_plotly_json())
    return out


def _chinese_figures():
    """Every figure function, called with its Chinese labels (figures.LABEL_KEYS) and Chinese titles."""
    from types import SimpleNamespace

    import numpy as np

    from resnet_viz import figures
    from resnet_viz.figures import cam as figures_cam
    from resnet_viz.figures import gradflow as figures_gradflow
    from resnet_viz.figures import lab as figures_lab
    from resnet_viz.figures import maps as figures_maps

    def zh(name):
        return figures.labels(name, lambda key: i18n.t(key, "zh"))

    blocks = ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"]
    stages = [{"stage": s, "out_c": c, "out_h": h, "out_w": h, "params": p, "share": p / 11_689_512}
              for s, c, h, p in (("stem", 64, 56, 9_536), ("layer1", 64, 56, 147_968), ("layer2", 128, 28, 525_568),
                                 ("layer3", 256, 14, 2_099_712), ("layer4", 512, 7, 8_393_728),
                                 ("head", 1000, 1, 513_000))]
    block_rows = [{"block": b, "in_c": 64, "out_c": 128, "stride": 2 if b.endswith(".0") and b != "layer1.0" else 1,
                   "projection": b in ("layer2.0", "layer3.0", "layer4.0")} for b in blocks]
    picture, heat = np.zeros((16, 16, 3), np.uint8), np.linspace(0, 1, 256).reshape(16, 16)
    norms = {name: SimpleNamespace(layers=["conv1", "layer1.0.conv1"], output_grad=[2.0, 1.0], weight_grad=[3.0, 1.0],
                                   activation_std=[0.6, 0.6], output_ratio=2.0, weight_ratio=3.0)
             for name in ("plain-20", "residual-20")}
    curves = {n: SimpleNamespace(steps=[0, 10], loss=[2.3, 2.0]) for n in ("plain-8", "plain-32", "residual-8",
                                                                           "residual-32")}
    values = {"intact": 1.0, "no_shortcuts": 0.1,
              **{f"{k}:{b}": 0.9 for k in ("no_shortcut", "no_branch") for b in blocks}}
    yield figures.stage_shapes(stages, **zh("stage_shapes"))
    yield figures.param_share(stages, **zh("param_share"))
    yield figures.block_diagram(block_rows, (True,) * 7 + (False,), **zh("block_diagram"))
    yield figures_cam.cam_image_row({"layer1": picture, "layer4": picture}, "各阶段中支持“条纹”的证据",
                                    {"layer1": (1, 1)})
    yield figures_cam.cam_overlay_figure(picture, heat, peak=(3, 3), title="layer4：“条纹”的依据来自哪里",
                                         outline=heat > 0.5, **zh("cam_overlay_figure"))
    yield figures_cam.cam_topk([(8, "条纹", 0.83), (0, "圆形", 0.1)], "Top-5（快捷连接全部开启）", highlight=8,
                               **zh("cam_topk"))
    yield figures_cam.cam_sanity(["fc", "layer4.1", "layer4.0"],
                                 {"gradcam": [1.0, 0.5, 0.1], "guided_gradcam": [1.0, 0.9, 0.9]}, **zh("cam_sanity"))
    yield figures_cam.cam_deletion(np.linspace(0, 1, 5), np.linspace(1, 0, 5), np.linspace(1, 0.5, 5), 0.2, 0.4, "条纹",
                                   **zh("cam_deletion"))
    tiled = tiles.tile(np.random.default_rng(0).random((4, 8, 8), dtype=np.float32))
    yield figures_maps.feature_tiles(tiled, "layer1：4 个 8×8 的通道", **zh("feature_tiles"))[0]
    yield figures_maps.channel_overlay(picture, heat[:4, :4], "layer1 通道 0，叠加在输入图像上", (0.0, 1.0),
                                       **zh("channel_overlay"))
    yield figures_maps.residual_row({"x": heat, "F(x)": heat, "F(x) + x": heat}, (0.0, 2.0), "layer1.0 通道 0",
                                    **zh("residual_row"))
    yield figures_maps.residual_ratio_chart({b: 0.5 for b in blocks}, "layer1.0", {"layer2.0": False},
                                            **zh("residual_ratio_chart"))
    for quantity in ("output_grad", "weight_grad", "activation_std"):
        yield figures_gradflow.gradflow_profile(norms, quantity, title="初始化时每一层的梯度",
                                                **zh(f"gradflow_profile.{quantity}"))
    yield figures_gradflow.degradation_curves(curves, 10, chance=2.3, title="前 10 步的训练损失",
                                              **zh("degradation_curves"))
    yield figures_gradflow.resnet_grad_norms(["conv1", "layer1.0.conv1"], {"快捷连接全部开启": [2.0, 1.0]},
                                             **zh("resnet_grad_norms"))
    yield figures_lab.lesion_chart(values, title="100 张留出图形上的准确率", y_title="准确率（%）", chance=0.1,
                                   **zh("lesion_chart"))
    yield figures_gradflow.gradient_correlation_chart({"plain-20": [0.3, 0.1], "residual-20": [0.8, 0.7]}, 32,
                                                      **zh("gradient_correlation_chart"))


def test_every_figure_drawn_with_chinese_labels_shows_no_english():
    count = 0
    for fig in _chinese_figures():
        texts = _figure_texts(fig)
        assert texts, "the scan found no text at all"
        leaks = [w for text in texts for w in english_words(text)]
        assert not leaks, (fig.layout.title.text, leaks)
        count += 1
    assert count == 19


def test_label_keys_name_real_arguments_and_real_keys():
    import inspect

    from resnet_viz import figures
    from resnet_viz.figures import cam as figures_cam
    from resnet_viz.figures import gradflow as figures_gradflow
    from resnet_viz.figures import lab as figures_lab
    from resnet_viz.figures import maps as figures_maps
    from resnet_viz.figures import rooms as figures_rooms

    modules = (figures, figures_cam, figures_maps, figures_gradflow, figures_lab, figures_rooms)
    en = i18n.texts("en")
    for name, args in figures.LABEL_KEYS.items():
        function = next(getattr(m, name.split(".")[0]) for m in modules if hasattr(m, name.split(".")[0]))
        params = inspect.signature(function).parameters
        assert set(args) <= set(params), (name, set(args) - set(params))
        flat = [k for v in args.values() for k in (v.values() if isinstance(v, dict) else
                                                    v if isinstance(v, tuple) else [v])]
        assert all(k in en for k in flat), name


def test_a_list_param_is_joined_the_languages_way():
    reading = ("read.gpath.off", {"blocks": ["layer2.0", "layer3.0"]})
    assert "layer2.0, layer3.0" in i18n.render(reading, "en")
    assert "layer2.0、layer3.0" in i18n.render(reading, "zh")
