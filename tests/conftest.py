"""Shared test set-up: no network, an empty torch hub cache, one seed."""

import os
import tempfile

# Before torch loads OpenMP, as the app does (ui/boot.py): its threads sleep between ops instead of spinning. The
# e2e servers and browsers share these cores with the test process; spinning threads took them from each other.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

# Set before any test imports the app: tests must never reach for the network or a user's hub cache.
os.environ["RESNET_VIZ_OFFLINE"] = "1"
os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="resnet-viz-torch-home-"))
os.environ.setdefault("RESNET_VIZ_CACHE", tempfile.mkdtemp(prefix="resnet-viz-cache-"))
os.environ["RESNET_VIZ_DEVICE"] = "cpu"
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convs on a shared 2-core machine run several times faster on one torch thread than on two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def random_handle():
    """The seeded random-weights model, shared by the tests as the app shares it."""
    from resnet_viz.model import weights

    return weights.handle_for("random", device="cpu")
