"""Caches bounded by bytes, keyed by content (weights digest, image digest, ...), shared by every session."""

# st.cache_resource bounds entries, not bytes: a 20:1 panorama traced "whole image" holds ~147 MB, so 16 entries
# could hold 2.3 GB. `BoundedLRU` evicts least recently used entries until the held arrays fit its byte budget.

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

from resnet_viz.explain import featuremaps, gradcam
from resnet_viz.model.layers import STAGE_NAMES
from ui.text import lang

MiB = 1 << 20
TRACE_BUDGET = 512 * MiB  # feature traces (every layer's maps of one image): ~3 panoramas or ~100 photos
CAM_BUDGET = 128 * MiB  # Grad-CAM results (four upsampled maps each)


def nbytes(obj: object, _seen: set[int] | None = None) -> int:
    """Bytes held by arrays and tensors inside `obj` (dataclasses, dicts, lists, tuples), plus a small
    per-object overhead for everything else."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):  # a torch tensor
        return int(obj.element_size() * obj.nelement())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), seen) for f in dataclasses.fields(obj)) + 64
    if isinstance(obj, dict):
        return sum(nbytes(k, seen) + nbytes(v, seen) for k, v in obj.items()) + 64
    if isinstance(obj, list | tuple | set | frozenset):
        return sum(nbytes(v, seen) for v in obj) + 56
    return sys.getsizeof(obj, 64)


class BoundedLRU:
    """A thread-safe least-recently-used cache holding at most `budget`, as `weigh` measures its values (bytes by
    default; `weigh=lambda _: 1` counts entries).

    One computation per key at a time: a second caller asking for a key being computed waits for it instead
    of computing it again. A value heavier than the whole budget is returned but not kept.
    """

    def __init__(self, budget: int, weigh: Callable[[object], int] = nbytes) -> None:
        self.budget = budget
        self._weigh = weigh
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}
        self.weight = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def _lookup(self, key: Hashable):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key][0]
        return False, None

    def peek(self, key: Hashable, default: object = None):
        """The value kept for `key` (now the most recent), or `default`; never computes."""
        found, value = self._lookup(key)
        return value if found else default

    def get(self, key: Hashable, compute: Callable[[], object]):
        found, value = self._lookup(key)
        if found:
            return value
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            found, value = self._lookup(key)
            if found:
                return value
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            self.put(key, value)
            return value

    def put(self, key: Hashable, value: object) -> None:
        """Keep `value` under `key`, evicting the least recently used entries until the budget holds."""
        weight = self._weigh(value)
        if weight > self.budget:
            return
        with self._lock:
            if key in self._items:
                self.weight -= self._items.pop(key)[1]
            self._items[key] = (value, weight)
            self.weight += weight
            while self.weight > self.budget:
                _, (_, old) = self._items.popitem(last=False)
                self.weight -= old

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.weight = 0


TRACES = BoundedLRU(TRACE_BUDGET)
CAMS = BoundedLRU(CAM_BUDGET)
# Figures are shared by every session and never changed after they are built (st.plotly_chart only reads them).
# Counted, not sized: ~256 figures of at most a few hundred KB each. Building a plotly figure (validation, the
# template, subplots) costs more server CPU than sending it: a warm page visit reuses every figure it drew before.
FIGURES = BoundedLRU(256, weigh=lambda _: 1)


def figure(key: Hashable, build: Callable[[], object]):
    """The figure for `key` (which must name everything it shows: weights digest, image, mask, layer, …), built
    once per language."""
    return FIGURES.get((*key, lang()) if isinstance(key, tuple) else (key, lang()), build)


def features(handle, image_key: str, mask: tuple[bool, ...], center_crop: bool, image) -> featuremaps.FeatureTrace:
    """ONE traced forward per (weights digest, image digest, mask, crop), shared by every page and session."""
    return TRACES.get((handle.digest, image_key, tuple(mask), center_crop),
                      lambda: featuremaps.compute(handle, image, mask, center_crop))


def grad_cams(handle, image_key: str, mask: tuple[bool, ...], target: int | None, x) -> gradcam.GradCam:
    """Grad-CAM of the four stages in one pass per (weights digest, image digest, mask, class). The top class's
    result (target None) is also kept under that class's number: the page's on/off comparison asks for it so."""
    key = (handle.digest, image_key, tuple(mask))
    cam = CAMS.get((*key, target), lambda: gradcam.grad_cam(handle, x, STAGE_NAMES, target, mask))
    if target is None:  # the same object under a second key (its bytes count twice: the budget errs low)
        CAMS.put((*key, cam.target), cam)
    return cam
