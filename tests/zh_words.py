"""The Chinese scan's word test: which Latin-letter words a Chinese page may show (names, units, symbols, cited
authors) and which are English left untranslated. Shared by the unit and the app tests."""

from __future__ import annotations

import re

# English that may stay on a Chinese page: names of layers, models, data sets, methods, file formats and
# libraries, the authors of cited papers, units and symbols. Everything else in Latin letters is a leak.
ALLOWED_WORDS = frozenset({
    # layers and operations as print(model) names them, and the maths on the slides
    "conv", "conv1", "conv2", "bn1", "bn2", "fc", "relu", "ReLU", "downsample", "avgpool", "maxpool", "identity",
    "BN", "BatchNorm", "floor", "ln", "logit", "softmax", "std", "max", "min", "out", "in", "padding", "kernel",
    "stride", "print", "model", "x", "F", "H", "L", "W", "d", "n", "k", "p", "s", "P", "C", "A", "B", "ρ",
    "zero_init_residual", "state", "dict", "He",
    "conv3", "conv2_x", "conv3_x", "conv4_x", "conv5_x",  # a Bottleneck's third conv; He et al.'s Table 1 stages
    # models, data sets, weights
    "ResNet", "ResNets", "ResNet-18", "ResNet-34", "ImageNet", "CIFAR-10", "CIFAR", "IMAGENET1K_V1", "VGG",
    "torchvision", "torch", "hub", "captum", "resnet-viz", "Top-1", "Top-5", "top-1", "top-5",
    "acc@1",
    # methods and optimisers
    "Grad-CAM", "Guided", "Backpropagation", "Integrated", "Gradients", "Occlusion", "Saliency", "SGD", "Adam",
    "Spearman", "IoU",
    # colour maps keep their names (plotly's, the same in every language)
    "Viridis", "Inferno", "Jet", "Greys", "RdBu",
    # cited authors and venues
    "Veit", "Adebayo", "Petsiuk", "Sundararajan", "Balduzzi", "Yang", "Selvaraju", "Luo", "ICLR", "ICML", "CVPR",
    "NeurIPS", "Olah", "Bau",
    # file formats and units
    "PNG", "JPEG", "WebP", "BMP", "GIF", "TIFF", "HEIC", "zip", "base64", "pth", "KB", "MB", "GB", "ms", "px",
    "CPU", "GPU", "cuda", "mps", "cpu", "auto", "HTML", "PDF", "SVG", "ZIP", "HEIF", "AVIF", "RGB", "kB",
    "SHA-256", "data.pkl",
    # the software and number names a refusal has to name
    "PyTorch", "Python", "pickle", "state_dict", "model.state_dict", "NaN", "Inf",
})
# Layer and network names with numbers: layer3.1, layer4.0.conv2, layer2.0.downsample.0, plain-56, residual-20.
_NAME = re.compile(r"^(layer\d(\.\d+)*(\.(conv|bn)\d|\.downsample(\.\d)?)?|(plain|residual|ResNet|resnet)-\d+"
                   r"|[A-Za-z]\d*)$")
_SKIP = re.compile(r"`[^`]*`|《[^》]*》|\{[^{}]*\}|https?://\S+|\$\S+|~/\S*|assets/\S*|[\w.-]+\.(?:pth|json|jpg|png)\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_@]*(?:[.\-][A-Za-z0-9_@]+)*")


def english_words(text: str, extra: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Latin-letter words in `text` outside ALLOWED_WORDS (plus `extra`, e.g. the live weights' class names)
    and layer/network names: what a Chinese page must not show. Code spans, 《titles》, {placeholders}, paths
    and file names are skipped."""
    bare = _SKIP.sub(" ", text)
    return [w for w in _WORD.findall(bare) if w not in ALLOWED_WORDS and w not in extra and not _NAME.match(w)]
