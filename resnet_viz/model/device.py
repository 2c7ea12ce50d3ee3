"""Pick where the network runs: cuda > mps > cpu, overridden by RESNET_VIZ_DEVICE."""

from __future__ import annotations

import os

import torch

from resnet_viz.text.errors import UserError

ENV_VAR = "RESNET_VIZ_DEVICE"


class DeviceError(UserError):
    """The requested device is unknown or absent: exc.key / exc.params (str(exc) is the English text)."""


def available_devices() -> list[str]:
    """Devices this machine can run on, best first."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def pick_device(requested: str | None = None) -> torch.device:
    """The requested device, else $RESNET_VIZ_DEVICE, else the best available.

    Raises:
        DeviceError: (a ValueError) the requested device is unknown or not present on this machine.
    """
    name = (requested or os.environ.get(ENV_VAR) or "").strip().lower()
    if not name or name == "auto":
        return torch.device(available_devices()[0])
    kind = name.split(":")[0]
    if kind not in ("cuda", "mps", "cpu"):
        raise DeviceError("device.err.unknown", name=name)
    if kind not in available_devices():
        raise DeviceError("device.err.unavailable", name=name, env=ENV_VAR, available=", ".join(available_devices()))
    return torch.device(name)
