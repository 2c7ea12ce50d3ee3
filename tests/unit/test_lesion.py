"""The lesion study against references: torchvision's own forward, forward.trace, and a block zeroed by hand."""

import copy
import dataclasses

import pytest
import torch

from resnet_viz.experiments import lesion
from resnet_viz.model import forward, weights
from resnet_viz.model.layers import BLOCK_NAMES
from resnet_viz.text import errors

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster on a shared machine

@pytest.fixture(scope="module")
def shapes_handle():
    try:
        return weights.handle_for("shapes", device="cpu")
    except errors.WeightsError as exc:
        pytest.skip(f"no shapes checkpoint: {exc}")


def test_variants_are_intact_8_shortcuts_8_branches_and_all_off():
    vs = lesion.variants()
    assert [v.kind for v in vs].count("no_shortcut") == 8 and [v.kind for v in vs].count("no_branch") == 8
    assert vs[0].key == "intact" and vs[0].first_change == 8
    assert vs[-1].mask == (False,) * 8 and vs[-1].first_change == 0
    v = next(v for v in vs if v.key == "no_branch:layer3.0")
    assert v.mask == (True,) * 8 and v.branches == (True,) * 4 + (False,) + (True,) * 3 and v.first_change == 4


def test_intact_accuracy_equals_the_plain_evaluation(shapes_handle):
    res = lesion.run(shapes_handle, "shapes", n=20, size=48)
    x, labels = lesion.shapes_set(20, 48, shapes_handle.mean, shapes_handle.std)
    with torch.no_grad():
        plain = (shapes_handle.model(x).argmax(1) == labels).float().mean().item()  # torchvision's forward
    assert res.metric == "accuracy" and res.n == 20
    assert res.values["intact"] == pytest.approx(plain, abs=1e-9)
    assert res.prob["intact"] > 0


def test_every_variant_equals_a_full_traced_forward(random_handle):
    torch.manual_seed(0)
    x = torch.randn(3, 3, 32, 32)  # ResNet-18's smallest input: the equality does not depend on the size
    got = lesion.variant_logits(random_handle, x, batch_size=2)  # two batches: checks the concatenation too
    with torch.no_grad():
        for v in lesion.variants():
            ref = forward.trace(random_handle.model, x, v.mask, v.branches).logits
            torch.testing.assert_close(got[v.key], ref, rtol=1e-5, atol=1e-5, msg=v.key)


@pytest.mark.parametrize("block", ["layer1.1", "layer3.0"])
def test_removing_a_branch_zeroed_by_hand_changes_nothing(random_handle, block):
    twin = copy.deepcopy(random_handle.model)
    bn2 = twin.get_submodule(block).bn2
    with torch.no_grad():
        bn2.weight.zero_()
        bn2.bias.zero_()
    zeroed = dataclasses.replace(random_handle, model=twin)
    torch.manual_seed(1)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = forward.trace(twin, x).logits  # the zeroed block's branch already adds exactly 0
    got = lesion.variant_logits(zeroed, x)
    torch.testing.assert_close(got[f"no_branch:{block}"], ref, rtol=0, atol=0)
    torch.testing.assert_close(got["intact"], ref, rtol=0, atol=0)


def test_summarise_by_hand():
    logits = {"intact": torch.tensor([[2.0, 0.0], [0.0, 2.0]]), "other": torch.tensor([[0.0, 1.0], [0.0, 1.0]])}
    values, prob = lesion.summarise(logits, None)
    assert values == {"intact": 1.0, "other": 0.5}  # "other" says class 1 twice; the intact top-1 is 0 then 1
    p1 = torch.tensor([0.0, 1.0]).softmax(0)[1].item()
    assert prob["other"] == pytest.approx(((1 - p1) + p1) / 2)  # P(class 0) on image 0, P(class 1) on image 1
    assert prob["intact"] == pytest.approx(torch.tensor([2.0, 0.0]).softmax(0)[0].item())
    acc, _ = lesion.summarise(logits, torch.tensor([1, 1]))
    assert acc == {"intact": 0.5, "other": 1.0}


def test_cache_keys_follow_the_weights(random_handle, monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    calls = []
    fake = lesion.LesionResult("agreement", {"intact": 1.0}, {"intact": 0.5}, 6, 224, "photos")
    monkeypatch.setattr(lesion, "run", lambda *a, **k: calls.append(a) or fake)
    assert lesion.cached_run(random_handle, "photos") == fake
    assert lesion.cached_run(random_handle, "photos") == fake
    assert len(calls) == 1  # the second call came from disk
    retrained = copy.deepcopy(random_handle.model)
    with torch.no_grad():
        retrained.fc.bias.add_(1.0)
    twin = dataclasses.replace(random_handle, model=retrained)  # a new handle digests its weights
    assert lesion.cache_key(twin, "photos", 200, None) != lesion.cache_key(random_handle, "photos", 200, None)


def test_bad_input_says_why(random_handle):
    with pytest.raises(ValueError, match="10-class shapes model"):
        lesion.run(random_handle, "shapes", n=4)
    with pytest.raises(ValueError, match="Unknown evaluation set"):
        lesion.run(random_handle, "mnist")
    assert len(BLOCK_NAMES) == 8


def _result(values: dict[str, float], chance: float = 0.1) -> lesion.LesionResult:
    return lesion.LesionResult("accuracy", values, dict.fromkeys(values, 0.5), 10, 64, "shapes", chance=chance)


def test_summary_by_hand():
    values = {"intact": 0.9, "no_shortcuts": 0.1}
    values |= {f"no_branch:{b}": 0.8 for b in BLOCK_NAMES} | {f"no_shortcut:{b}": 0.5 for b in BLOCK_NAMES}
    values["no_branch:layer2.0"], values["no_shortcut:layer1.0"] = 0.4, 0.2
    s = lesion.summary(_result(values))
    assert isinstance(s, lesion.LesionSummary)
    assert s.intact == 0.9 and s.all_off == 0.1 and s.chance == 0.1
    assert s.worst_branch == "layer2.0" and s.worst_branch_value == 0.4
    assert s.worst_shortcut == "layer1.0" and s.worst_shortcut_value == 0.2
    assert s.branch_mean == pytest.approx((7 * 0.8 + 0.4) / 8) and s.shortcut_mean == pytest.approx((7 * 0.5 + 0.2) / 8)
    assert s.branch_drop == pytest.approx(0.9 - s.branch_mean)
    assert s.shortcut_drop == pytest.approx(0.9 - s.shortcut_mean)
    assert s.as_dict()["worst_branch"] == "layer2.0" and set(s.as_dict()) == {f.name for f in dataclasses.fields(s)}


def test_sessions_computing_the_same_study_at_once_share_the_cache(monkeypatch, tmp_path):
    # Two sessions computing the same lesion study in one process once raised FileNotFoundError.
    import threading
    import types

    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    fake = _result({"intact": 1.0, "no_shortcuts": 0.0})
    monkeypatch.setattr(lesion, "run", lambda *a, **k: fake)
    handle = types.SimpleNamespace(source="random", digest="0123abcd")  # all cached_run reads
    start, errors, got = threading.Barrier(16), [], []

    def work():
        start.wait()
        try:
            got.append(lesion.cached_run(handle, "photos"))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and got == [fake] * 16
    key = lesion.cache_key(handle, "photos", 200, None)
    assert [p.name for p in (tmp_path / "lesion").iterdir()] == [f"{key}.json"]
