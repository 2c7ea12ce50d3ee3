"""Unraveled paths (Veit et al. 2016): binomial counts by hand, and the shipped plain-vs-residual lesion."""

import math

import pytest

from resnet_viz.experiments import plainnet, unravel


def test_resnet18_paths_by_hand():
    p = unravel.paths(8)
    assert p.counts == (1, 8, 28, 56, 70, 56, 28, 8, 1) and p.total == 256 == sum(p.counts)
    assert p.mean == 4 and p.std == pytest.approx(math.sqrt(2))
    assert p.share_within(1) == (56 + 70 + 56) / 256
    assert p.share_at_most(0) == 1 / 256
    assert p.layers()[8] == 18 and p.layers()[0] == 2  # all 8 blocks taken: 2 + 16 weight layers


def test_cifar_stack():
    assert unravel.cifar_blocks(110) == 54 and unravel.cifar_blocks(20) == 9
    p = unravel.paths(54)
    assert p.total == 2 ** 54 and p.mean == 27 and p.counts[27] == math.comb(54, 27)
    assert p.std == pytest.approx(math.sqrt(54) / 2)
    assert 0.95 < p.share_within(7) < 0.97  # ~ +-1.9 standard deviations
    with pytest.raises(ValueError):
        unravel.cifar_blocks(21)


@pytest.mark.skipif(not (plainnet.ASSET_DIR / "plain_vs_residual.json").exists(), reason="not trained yet")
def test_shipped_lesion_numbers_are_the_checkpoints():
    pair = unravel.shipped_lesion()
    assert pair.blocks[0] == "layer1.0" and pair.downsampling.count(True) == 2
    for name in plainnet.NAMES:
        path = plainnet.ASSET_DIR / f"{name}.pth"
        assert path.stat().st_size < 2_000_000
    # Re-measure: the stored numbers came from these float16 weights on the stored held-out set.
    model, meta = plainnet.load("plain")
    s = plainnet.PlainSettings(**{**meta["settings"], "widths": tuple(meta["settings"]["widths"])})
    x, y = plainnet.heldout(s)
    r = plainnet.lesion(model, x, y)
    assert r["intact"] == pair.plain_intact and tuple(r["deleted"]) == pair.plain_deleted
    assert pair.chance == 0.1 and pair.n == 500
    assert "python -m resnet_viz.experiments.plainnet" in pair.command
