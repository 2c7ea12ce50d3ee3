"""Fixtures the unit tests share: the attribution tests' model and input, the shipped checkpoint's scores."""

import os

import pytest
import torch


@pytest.fixture(scope="module")
def handle(random_handle):
    """The seeded random-weights model (the session's shared one)."""
    return random_handle


@pytest.fixture(scope="module")
def image():
    """A seeded 64×64 input batch of one (its own generator: the global RNG is left to the tests)."""
    return torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="session")
def shapes_scores():
    """The shipped shapes checkpoint and a seeded random ResNet-18 scored once on the first 200 held-out images at
    128 px: top-1 accuracy, and the pointing game at layer3 and layer4 (one Grad-CAM pass gives both layers). The
    checkpoint tests (test_train, test_gradcam) read these numbers instead of each running the same evaluation."""
    from types import SimpleNamespace

    from resnet_viz.data import shapes
    from resnet_viz.experiments import train
    from resnet_viz.model import weights

    if not weights.SHAPES_CHECKPOINT.exists():
        pytest.skip("the shapes checkpoint is not in assets/shapes")
    imgs, labels, masks = shapes.to_arrays(shapes.heldout_set(200, shapes.HELDOUT_SIZE))
    model, meta = train.load_checkpoint(weights.SHAPES_CHECKPOINT)
    layers = ("layer3", "layer4")
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))  # batches of 50: both cores help (one_thread may be on)
    try:
        return SimpleNamespace(
            size=shapes.HELDOUT_SIZE, meta=meta, accuracy=train.accuracy(model.eval(), imgs, labels),
            trained=train.pointing_game(model.eval(), imgs, labels, masks, layers=layers),
            random=train.pointing_game(train.build_model(seed=0).eval(), imgs, labels, masks, layers=layers))
    finally:
        torch.set_num_threads(before)
