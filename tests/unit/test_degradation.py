"""Degradation runs: progress, determinism, stopping, the disk cache and its keys, the shipped curves, and the
readings of a run."""

from __future__ import annotations

import dataclasses
import math

import pytest

from resnet_viz.experiments import degradation
from resnet_viz.experiments.stacks import StackConfig, TrainSettings
from resnet_viz.text import experiment_readings

pytestmark = pytest.mark.usefixtures("one_thread")

def _tiny_run(**kw) -> tuple[dict[str, StackConfig], TrainSettings]:
    cfgs = {"a": StackConfig(depth=8, widths=(4, 8, 8)), "b": StackConfig(depth=8, residual=False, widths=(4, 8, 8))}
    settings = TrainSettings(steps=30, batch_size=16, lr=0.05, image_size=16, log_every=10, data="random",
                             pool_size=32, **kw)
    return cfgs, settings


def test_training_lowers_loss_and_reports_progress(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    cfgs, settings = _tiny_run()
    calls = []
    result = degradation.train_stacks(cfgs, settings, progress=lambda c, done, total: calls.append((done, total)))
    assert calls == [(10, 30), (20, 30), (30, 30)]
    assert result.finished and not result.from_cache
    for curve in result.curves.values():
        assert curve.steps == [10, 20, 30]
        assert curve.loss[-1] < curve.loss[0]
        assert len(curve.grad_norms) == 3 and len(curve.grad_norms[0]) == 7
    # The second call replays the disk cache, under RESNET_VIZ_CACHE.
    assert list((tmp_path / "gradflow").glob("*.json"))
    again = degradation.train_stacks(cfgs, settings)
    assert again.from_cache
    assert again.curves["a"].loss == result.curves["a"].loss
    assert again.curves["a"].config == result.curves["a"].config


def test_training_is_deterministic_and_stoppable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    cfgs, settings = _tiny_run()
    stopped = degradation.train_stacks(cfgs, settings, progress=lambda c, done, total: done >= 10)
    assert not stopped.finished
    assert [c.steps for c in stopped.curves.values()] == [[10], [10]]
    assert not list((tmp_path / "gradflow").glob("*.json"))  # a stopped run is not cached
    full = degradation.train_stacks(cfgs, settings, cache=False)
    assert full.curves["a"].loss[0] == stopped.curves["a"].loss[0]


def test_cache_dir_defaults_to_home(monkeypatch) -> None:
    monkeypatch.delenv("RESNET_VIZ_CACHE", raising=False)
    assert str(degradation.cache_dir()).endswith(".cache/resnet-viz/gradflow")


def test_cache_key_depends_on_settings() -> None:
    cfgs, settings = _tiny_run()
    other = dataclasses.replace(settings, lr=0.01)
    assert degradation.cache_key(cfgs, settings) != degradation.cache_key(cfgs, other)
    assert degradation.cache_key(cfgs, settings) == degradation.cache_key(dict(reversed(list(cfgs.items()))), settings)


def test_bad_training_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        TrainSettings(optimizer="lbfgs")
    with pytest.raises(ValueError, match="shallow"):
        degradation.degradation_configs(shallow=20, deep=8)



def test_degradation_shows_on_a_cheap_seeded_run(tmp_path, monkeypatch) -> None:
    # A narrower, shorter cousin of the page's default run. Measured at 60 steps: holds for seeds 0, 1, 2; seed 2
    # has the widest plain margin (plain-20 2.223 vs plain-8 2.149; residual-20 1.958 vs residual-8 2.131), wider
    # than seed 0 at 100 steps (2.167 vs 2.108), which this test used before.
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    cfgs = degradation.degradation_configs(shallow=8, deep=20, widths=(4, 8, 16), seed=2)
    settings = TrainSettings(steps=60, batch_size=16, lr=0.003, optimizer="adam", image_size=16, log_every=20,
                             pool_size=256, seed=2)
    final = {k: c.final_loss for k, c in degradation.train_stacks(cfgs, settings, cache=False).curves.items()}
    assert final["plain-20"] > final["plain-8"]
    assert final["residual-20"] <= final["residual-8"]
    assert final["residual-20"] < final["plain-20"]
    result = degradation.TrainResult(
        settings, {k: degradation.TrainCurve(k, cfgs[k], [], [60], [v]) for k, v in final.items()}, True)
    assert degradation.degradation_shows(result)
    final["residual-20"] = final["residual-8"] + 0.1
    worse = degradation.TrainResult(
        settings, {k: degradation.TrainCurve(k, cfgs[k], [], [60], [v]) for k, v in final.items()}, True)
    assert not degradation.degradation_shows(worse)
    assert degradation.chance_loss(settings) == pytest.approx(math.log(10))
    # One verdict per run, from the same numbers. plain-20 at ~2.22 is still near a uniform guess (ln 10 = 2.30): it
    # has barely started learning, which is not called the degradation pattern; then the deep residual net worse.
    chance = degradation.chance_loss(settings)
    assert experiment_readings.degradation_of(result, chance)[0][0] == "read.deg.not_learning"
    assert experiment_readings.degradation_of(worse, chance)[0][0] == "read.deg.both_worse"


# The shipped runs' deep plain net ends at 2.27 (seed 0), 2.06 (seed 1), 2.22 (seed 2) against ln 10 = 2.30: only
# seed 1's has clearly started learning, so only its verdict is the degradation pattern.
SHIPPED_VERDICTS = {0: "read.deg.not_learning", 1: "read.deg.shows", 2: "read.deg.not_learning"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shipped_default_curves_match_the_defaults_and_show_degradation(seed: int, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))  # so only the shipped file can answer
    configs, settings = degradation.default_degradation(seed)
    result = degradation.find_run(configs, settings)
    assert result is not None and result.source == "precomputed" and result.finished
    final = {k: c.final_loss for k, c in result.curves.items()}
    assert final["plain-32"] > final["plain-8"] and final["residual-32"] <= final["residual-8"]
    assert degradation.degradation_shows(result)
    verdict, params = experiment_readings.degradation_of(result, degradation.chance_loss(result.settings))[0]
    assert verdict == SHIPPED_VERDICTS[seed] and params["steps"] == settings.steps
    assert params["p_deep"] == final["plain-32"] and params["r_deep"] == final["residual-32"]

