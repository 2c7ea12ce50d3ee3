"""Weight sources: the hub cache, offline fallback within seconds, refused pickles, wrong shapes."""

import io
import pickle
import socket
import threading
import time

import pytest
import torch
from torchvision.models import resnet18, resnet50

from resnet_viz import weights
from resnet_viz.device import pick_device
from resnet_viz.forward import hooks_left


def _state(num_classes=1000, seed=1):
    torch.manual_seed(seed)
    return resnet18(num_classes=num_classes).state_dict()


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_fake_imagenet_checkpoint_in_torch_home_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights.imagenet_cache_path()
    assert path == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    state = _state()
    torch.save(state, path)
    handle = weights.load("auto", device="cpu")
    assert handle.source == "imagenet" and "torch hub cache" in handle.reason
    assert handle.labels[0] == "tench" and len(handle.labels) == 1000
    assert torch.equal(handle.model.fc.weight, state["fc.weight"])
    assert not any(p.requires_grad for p in handle.model.parameters()) and not handle.model.training
    assert hooks_left(handle.model) == 0


@pytest.fixture
def black_hole():
    """A loopback server that accepts connections and never answers, like a network that hangs."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/models/resnet18-f37072fd.pth"
    stop.set()
    for c in conns:
        c.close()
    srv.close()


def test_unreachable_network_falls_back_fast_and_says_why(tmp_path, monkeypatch, black_hole):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(weights.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(weights, "IMAGENET_URL", black_hole)
    t0 = time.monotonic()
    handle = weights.load("auto", device="cpu")
    elapsed = time.monotonic() - t0
    assert elapsed < 5, elapsed
    assert handle.source in ("shapes", "random")
    assert "within 3 s" in handle.skipped["imagenet"]
    assert not weights.imagenet_cache_path().exists()


def test_offline_switch_skips_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(weights.WeightsError, match="downloads are off"):
        weights.load("imagenet", device="cpu")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_malicious_pickle_is_refused(capsys):
    data = pickle.dumps({"fc.weight": _Evil()})
    with pytest.raises(weights.WeightsError, match="could run code"):
        weights.load("file", device="cpu", file=_bytes({"x": _Evil()}))
    with pytest.raises(weights.WeightsError):
        weights.load("file", device="cpu", file=data)
    assert "pwned" not in capsys.readouterr().out


def test_wrong_architecture_names_the_first_mismatch():
    with pytest.raises(weights.WeightsError, match=r"'conv1.weight' has shape \(64, 3, 7, 7\)|layer1.0.conv1"):
        weights.load("file", device="cpu", file=_bytes(resnet50().state_dict()))
    state = _state()
    del state["layer3.1.bn2.running_var"]
    with pytest.raises(weights.WeightsError, match=r"'layer3\.1\.bn2\.running_var' is missing"):
        weights.load("file", device="cpu", file=_bytes(state))
    state = _state()
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    with pytest.raises(weights.WeightsError, match=r"'layer2.0.conv1.weight' has shape \(128, 64, 5, 5\)"):
        weights.load("file", device="cpu", file=_bytes(state))
    with pytest.raises(weights.WeightsError, match="not a readable PyTorch checkpoint"):
        weights.load("file", device="cpu", file=_bytes(_state())[:5000])
    with pytest.raises(weights.WeightsError, match="not a readable"):
        weights.load("file", device="cpu", file=b"")


def test_own_checkpoint_with_other_class_count_and_wrappers():
    state = _state(num_classes=7)
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    handle = weights.load("file", device="cpu", file=_bytes(wrapped))
    assert handle.labels == [f"class {i}" for i in range(7)]
    x = torch.randn(1, 3, 64, 64)
    ref = resnet18(num_classes=7).eval()
    ref.load_state_dict(state)
    with torch.no_grad():
        assert torch.allclose(handle.trace(x).logits, ref(x), atol=1e-5)


def test_random_is_seeded_and_unknown_source_is_refused():
    a = weights.load("random", device="cpu")
    b = weights.load("random", device="cpu")
    assert torch.equal(a.model.conv1.weight, b.model.conv1.weight)
    with pytest.raises(weights.WeightsError, match="Unknown weights source"):
        weights.load("bogus", device="cpu")


def test_device_override(monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    monkeypatch.setenv("RESNET_VIZ_DEVICE", "tpu")
    with pytest.raises(ValueError, match="Unknown device"):
        pick_device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")


def test_digest_is_content_not_identity_and_leaves_the_model_alone():
    a = weights.load("file", device="cpu", file=_bytes(_state(seed=1)))
    b = weights.load("file", device="cpu", file=_bytes(_state(seed=1)))
    c = weights.load("file", device="cpu", file=_bytes(_state(seed=2)))
    assert a is not b and a.digest == b.digest
    assert a.digest != c.digest and len(a.digest) == 16
    # one value changed in a buffer (not a parameter) changes it too
    state = _state(seed=1)
    state["layer4.1.bn2.running_var"][0] += 1e-3
    assert weights.load("file", device="cpu", file=_bytes(state)).digest != a.digest
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    assert weights.weights_digest(a.model) == a.digest  # computed the same way again ...
    after = a.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)  # ... read only
    assert not a.model.training and not any(p.requires_grad for p in a.model.parameters())
    assert hooks_left(a.model) == 0
