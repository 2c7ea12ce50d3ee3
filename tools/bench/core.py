"""What every bench measure shares: how much to run, timings taken in turns (A, B, C, A, B, C, ...), table rows,
and the machine they ran on.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROOT", "BenchSettings", "Row", "Timing", "interleaved", "machine", "ms", "peak_rss_mb", "timing_rows"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BenchSettings:
    """How much to run. quick: a smoke run (small inputs, few repetitions, no training run)."""

    device: str = "cpu"
    quick: bool = False
    reps: int = 7
    warmup: int = 2
    image_size: int = 224
    batches: tuple[int, ...] = (1, 16)
    page_reps: int = 3
    pages: tuple[str, ...] | None = None  # None: every page in ui.nav.PAGES
    init_depth: int = 56
    init_batch: int = 64
    degradation: bool = True

    @classmethod
    def make(cls, device: str = "cpu", quick: bool = False) -> BenchSettings:
        if not quick:
            return cls(device=device)
        return cls(device=device, quick=True, reps=2, warmup=1, image_size=64, batches=(1, 2), page_reps=1,
                   pages=("pages/0_Home.py",), init_depth=8, init_batch=4, degradation=False)


@dataclass
class Timing:
    """Seconds per repetition of one variant."""

    name: str
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.min, "reps": len(self.times)}


@dataclass
class Row:
    """One line of the printed table."""

    measure: str
    variant: str
    median: str = ""
    minimum: str = ""
    ratio: str = ""
    ratio_min: str = ""
    goal: str = ""


# ---------------------------------------------------------------- timing helpers


def _sync(device: str) -> Callable[[], None]:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def interleaved(variants: dict[str, Callable[[], object]], reps: int, warmup: int, device: str = "cpu"
                ) -> dict[str, Timing]:
    """Time each variant `reps` times, taking turns (and rotating who goes first) after `warmup` rounds."""
    sync = _sync(device)
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    sync()
    out = {name: Timing(name) for name in names}
    for r in range(reps):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            variants[name]()
            sync()
            out[name].times.append(time.perf_counter() - t0)
    return out


def ms(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 10 else f"{s:.1f} s"


def timing_rows(measure: str, timings: dict[str, Timing], base: str | None) -> list[Row]:
    rows = []
    for name, t in timings.items():
        ratio = f"{t.median / timings[base].median:.2f}x" if base and name != base else ""
        ratio_min = f"{t.min / timings[base].min:.2f}x" if base and name != base else ""
        rows.append(Row(measure, name, ms(t.median), ms(t.min), ratio, ratio_min))
    return rows


def machine() -> str:
    """CPU model and core count (and the GPU when one is used), for the table's header."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if platform.system() == "Darwin" else rss / 1024
