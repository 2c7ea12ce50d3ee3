"""CUDA out of memory -> the same request again on the CPU, with a note saying so.

Every computation on the shared model goes through `run`; a lecture with a busy GPU slows down instead of failing.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from resnet_viz.text.errors import Reason

T = TypeVar("T")

CPU = torch.device("cpu")
# Shown beside a result that fell back to the CPU; str(NOTE) is the English text, NOTE.text(lang) any other.
NOTE = Reason("fallback.cpu_note")

_CPU_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_COPIES_LOCK = threading.Lock()


def cpu_copy(model: nn.Module) -> nn.Module:
    """A CPU twin of a (GPU) model, made once per model.

    Built empty on the CPU and filled tensor by tensor: deepcopy would first duplicate the weights on the very
    GPU that has just run out of memory.
    """
    with _COPIES_LOCK:
        twin = _CPU_COPIES.get(model)
        if twin is None:
            twin = copy_to_cpu(model)
            _CPU_COPIES[model] = twin
        return twin


def copy_to_cpu(model: nn.Module) -> nn.Module:
    from torchvision.models import resnet18

    twin = resnet18(weights=None, num_classes=model.fc.out_features)
    twin.load_state_dict({k: v.detach().to(CPU) for k, v in model.state_dict().items()})
    return twin.eval().requires_grad_(False)


def run(model: nn.Module, device: torch.device, lock: threading.RLock,
        fn: Callable[[nn.Module, torch.device], T]) -> tuple[T, Reason | None]:
    """fn(model, device) under `lock`; on torch.cuda.OutOfMemoryError, fn(cpu twin, cpu) instead.

    fn must move its own inputs to the device it is given. Returns (result, note); note is None unless the
    request fell back to the CPU, then NOTE.
    """
    with lock:
        try:
            return fn(model, device), None
        except torch.cuda.OutOfMemoryError:
            pass  # leave the except block first, so the failed attempt's tensors can be freed
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return fn(cpu_copy(model), CPU), NOTE
