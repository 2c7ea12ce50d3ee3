"""The unraveled view of a residual network (Veit et al. 2016, §3 and Fig. 6): n blocks, each either taken or
skipped, give 2^n paths whose lengths follow Binomial(n, 1/2); plus the plain-vs-residual lesion numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from resnet_viz.experiments import plainnet


def cifar_blocks(depth: int) -> int:
    """Residual blocks in a CIFAR stack of depth 6n+2 (He et al. 2015 §4.2): 3n, e.g. 110 -> 54."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n+2 with n >= 1, got {depth}")
    return 3 * (depth - 2) // 6


@dataclass(frozen=True)
class PathCounts:
    """Path lengths (in blocks taken) of an unraveled network of n blocks."""

    n: int
    counts: tuple[int, ...]  # counts[k] = C(n, k) paths go through exactly k residual branches

    @property
    def total(self) -> int:
        return 2 ** self.n

    @property
    def shares(self) -> tuple[float, ...]:
        return tuple(c / self.total for c in self.counts)

    @property
    def mean(self) -> float:
        """Expected path length n/2 (every block taken with probability 1/2)."""
        return sum(k * c for k, c in enumerate(self.counts)) / self.total

    @property
    def std(self) -> float:
        return math.sqrt(sum((k - self.mean) ** 2 * c for k, c in enumerate(self.counts)) / self.total)

    def share_within(self, k: int) -> float:
        """Share of paths whose length is within ±k blocks of the mean (both ends included)."""
        lo, hi = self.mean - k, self.mean + k
        return sum(c for j, c in enumerate(self.counts) if lo <= j <= hi) / self.total

    def share_at_most(self, k: int) -> float:
        return sum(self.counts[: k + 1]) / self.total

    def layers(self, convs_per_block: int = 2, fixed: int = 2) -> tuple[int, ...]:
        """Path length in weight layers for each k: fixed (stem conv + fc) + convs_per_block * k."""
        return tuple(fixed + convs_per_block * k for k in range(self.n + 1))


def paths(n: int) -> PathCounts:
    """Binomial path counts of n blocks (exact integers; n up to 1000)."""
    if not 0 <= n <= 1000:
        raise ValueError(f"n must be in 0..1000, got {n}")
    return PathCounts(n, tuple(math.comb(n, k) for k in range(n + 1)))


@dataclass(frozen=True)
class LesionPair:
    """The shipped plain net and its residual twin: accuracy intact and with one block deleted."""

    blocks: tuple[str, ...]
    downsampling: tuple[bool, ...]
    plain_intact: float
    plain_deleted: tuple[float, ...]
    residual_intact: float
    residual_deleted: tuple[float, ...]
    chance: float
    n: int
    command: str
    meta: dict

    def drop(self, which: str) -> tuple[float, ...]:
        """Accuracy lost per deleted block (intact - deleted)."""
        intact, deleted = ((self.plain_intact, self.plain_deleted) if which == "plain"
                           else (self.residual_intact, self.residual_deleted))
        return tuple(intact - d for d in deleted)


def shipped_lesion(folder: Path = plainnet.ASSET_DIR) -> LesionPair:
    """The lesion numbers stored with the shipped checkpoints (assets/plain/plain_vs_residual.json)."""
    meta = json.loads((folder / "plain_vs_residual.json").read_text())
    p, r = meta["lesion"]["plain"], meta["lesion"]["residual"]
    return LesionPair(tuple(p["blocks"]), tuple(p["downsampling"]), p["intact"], tuple(p["deleted"]),
                      r["intact"], tuple(r["deleted"]), p["chance"], p["n"], meta["command"], meta)
