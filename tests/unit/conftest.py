"""Fixtures the attribution tests share (Grad-CAM, the other methods, the sanity checks)."""

import pytest
import torch


@pytest.fixture(scope="module")
def handle(random_handle):
    """The seeded random-weights model (the session's shared one)."""
    return random_handle


@pytest.fixture(scope="module")
def image():
    """A seeded 64×64 input batch of one."""
    torch.manual_seed(0)
    return torch.randn(1, 3, 64, 64)
