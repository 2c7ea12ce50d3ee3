"""Weight sources: the hub cache, offline fallback within seconds, refused pickles, wrong shapes."""

import collections
import dataclasses
import hashlib
import http.server
import io
import pickle
import socket
import threading
import zipfile

import pytest
import torch
from PIL import Image
from torchvision.models import ResNet18_Weights, resnet18, resnet34, resnet50

from resnet_viz.inputs import checkpoint, images
from resnet_viz.model import device, fallback, hub, weights
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.device import pick_device
from resnet_viz.model.forward import hooks_left
from resnet_viz.text import i18n
from resnet_viz.text.errors import Reason, WeightsError


def _state(num_classes=1000, seed=1):
    torch.manual_seed(seed)
    return resnet18(num_classes=num_classes).state_dict()


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_fake_imagenet_checkpoint_in_torch_home_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = hub.imagenet_cache_path()
    assert path == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    state = _state()
    torch.save(state, path)
    handle = weights.handle_for("auto", device="cpu")
    assert handle.source == "imagenet" and handle.why_live.key == "weights.reason.auto"
    assert handle.live == Reason("weights.reason.cached", {"path": str(path)})
    assert str(path) in handle.why_live.text("zh")
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
    monkeypatch.delenv(hub.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(hub, "IMAGENET_URL", black_hole)
    # The configured timeout, shortened: the behaviour (give up, fall back, say why) does not depend on its length.
    short = dataclasses.replace(DEFAULTS, download_timeout_s=0.5)
    monkeypatch.setattr(weights, "DEFAULTS", short)
    handle = weights.handle_for("auto", device="cpu")
    assert handle.source in ("shapes", "random")
    # Our own timeout fired (not urllib's, which does not cover a hanging DNS lookup), with the configured seconds:
    assert handle.skipped["imagenet"] == Reason("weights.err.no_answer", {"host": black_hole.split("/")[2],
                                                                          "seconds": short.download_timeout_s})
    assert not hub.imagenet_cache_path().exists()


def test_offline_switch_skips_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError) as info:
        weights.handle_for("imagenet", device="cpu")
    assert info.value.key == "weights.err.offline" and info.value.params == {"path": str(hub.imagenet_cache_path())}


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def _refusal(data, source: str = "file") -> WeightsError:
    with pytest.raises(WeightsError) as info:
        weights.handle_for(source, device="cpu", file=data)
    exc = info.value
    # Every refusal is a key both languages have, with all its placeholders filled.
    assert exc.key in i18n.texts("en") and exc.key in i18n.texts("zh")
    assert exc.text("zh") and str(exc) == i18n.texts("en")[exc.key].format(**exc.params)
    return exc


def test_malicious_pickle_is_refused(capsys):
    assert _refusal(_bytes({"x": _Evil()})).key == "weights.err.unsafe"
    _refusal(pickle.dumps({"fc.weight": _Evil()}))  # the legacy (non-zip) format: refused by torch.load too
    assert "pwned" not in capsys.readouterr().out


def test_wrong_architecture_names_the_first_mismatch():
    exc = _refusal(_bytes(resnet50().state_dict()))  # 102 MB: refused from its zip index, before torch.load
    assert exc.key == "weights.err.too_large" and exc.params["declared_mb"] > 100
    exc = _refusal(_bytes(resnet34().state_dict()))  # every ResNet-18 key, with the same shapes, and more
    assert exc.key == "weights.err.unexpected" and exc.params["key"] == "layer1.2.conv1.weight"
    state = _state()
    del state["layer3.1.bn2.running_var"]
    assert _refusal(_bytes(state)).params == {"key": "layer3.1.bn2.running_var"}
    state = _state()
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    exc = _refusal(_bytes(state))
    assert (exc.key, exc.params) == ("weights.err.shape", {"key": "layer2.0.conv1.weight", "shape": (128, 64, 5, 5),
                                                           "expected": (128, 64, 3, 3)})
    assert "'layer2.0.conv1.weight' has shape (128, 64, 5, 5)" in str(exc)  # the CLI's English
    assert _refusal(_bytes(_state())[:5000]).key == "weights.err.damaged"
    assert _refusal(b"").key == "weights.err.empty"
    state = _state()
    state["extra.weight"] = torch.zeros(1)
    assert _refusal(_bytes(state)).params == {"key": "extra.weight", "count": 1}


def test_own_checkpoint_with_other_class_count_and_wrappers():
    state = _state(num_classes=7)
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    handle = weights.handle_for("file", device="cpu", file=_bytes(wrapped))
    assert handle.labels == [f"class {i}" for i in range(7)]
    x = torch.randn(1, 3, 64, 64)
    ref = resnet18(num_classes=7).eval()
    ref.load_state_dict(state)
    with torch.no_grad():
        assert torch.allclose(handle.trace(x).logits, ref(x), atol=1e-5)


def test_random_is_seeded_and_unknown_source_is_refused():
    a = weights.handle_for("random", device="cpu")
    b = weights.handle_for("random", device="cpu")
    assert torch.equal(a.model.conv1.weight, b.model.conv1.weight)
    assert _refusal(None, "bogus").params == {"source": "bogus", "choices": ", ".join(weights.SOURCES)}


def test_device_override(monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    monkeypatch.setenv("RESNET_VIZ_DEVICE", "tpu")
    with pytest.raises(ValueError) as info:
        pick_device()
    assert info.value.key == "device.err.unknown" and info.value.params == {"name": "tpu"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError) as info:
            pick_device("cuda")
        assert info.value.key == "device.err.unavailable" and info.value.params["available"] == "cpu"


def test_digest_is_content_not_identity_and_leaves_the_model_alone():
    a = weights.handle_for("file", device="cpu", file=_bytes(_state(seed=1)))
    b = weights.handle_for("file", device="cpu", file=_bytes(_state(seed=1)))
    c = weights.handle_for("file", device="cpu", file=_bytes(_state(seed=2)))
    assert a is not b and a.digest == b.digest
    assert a.digest != c.digest and len(a.digest) == 16
    # one value changed in a buffer (not a parameter) changes it too
    state = _state(seed=1)
    state["layer4.1.bn2.running_var"][0] += 1e-3
    assert weights.handle_for("file", device="cpu", file=_bytes(state)).digest != a.digest
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    assert weights.weights_digest(a.model) == a.digest  # computed the same way again ...
    after = a.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)  # ... read only
    assert not a.model.training and not any(p.requires_grad for p in a.model.parameters())
    assert hooks_left(a.model) == 0


def _deflated_bomb(nbytes: int, key: str = "fc.weight") -> bytes:
    """A torch zip checkpoint holding one float tensor of nbytes zeros, re-zipped with deflate: ~1 kB per MB."""
    numel = nbytes // 4
    storage = object()

    class Rebuild:  # pickles as torch's own tensor record, pointing at storage "0"
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (storage, 0, (numel,), (1,), False, collections.OrderedDict()))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", numel) if obj is storage else None

    pkl = io.BytesIO()
    Pickler(pkl, protocol=2).dump({key: Rebuild()})
    out = io.BytesIO()
    with (zipfile.ZipFile(io.BytesIO(_bytes({key: torch.zeros(1)}))) as src,
          zipfile.ZipFile(out, "w", compresslevel=1) as dst):
        for info in src.infolist():
            if info.filename.endswith("/data/0"):
                record = zipfile.ZipInfo(info.filename)
                record.compress_type = zipfile.ZIP_DEFLATED
                with dst.open(record, "w", force_zip64=True) as f:
                    for _ in range(nbytes >> 20):
                        f.write(bytes(1 << 20))
            else:
                dst.writestr(info.filename, pkl.getvalue() if info.filename.endswith("/data.pkl")
                             else src.read(info.filename))
    return out.getvalue()


@pytest.fixture
def no_torch_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load must not see this file")

    monkeypatch.setattr(weights.torch, "load", refuse)


def test_decompression_bomb_is_refused_from_the_zip_index(no_torch_load):
    data = _deflated_bomb(checkpoint.CHECKPOINT_LIMITS.max_payload_bytes + (8 << 20))
    assert len(data) < 200_000  # 100 MB of zeros in ~100 kB
    exc = _refusal(data)
    assert exc.key == "weights.err.too_large"
    assert exc.params["declared_mb"] > exc.params["limit_mb"] == 93.6 and exc.params["file_mb"] < 0.2
    # A real-sized checkpoint would pass the same check: an fp32 ResNet-18 with a 21,843-class head.
    assert checkpoint.check_archive(_bytes({"fc.weight": torch.zeros(512 * 21_843 + 11_176_512)})) is None


def test_bomb_shapes_other_than_size_are_refused(no_torch_load, tmp_path):
    limits = checkpoint.CheckpointLimits(max_entries=8)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(9):
            archive.writestr(f"archive/data/{i}", b"")
    with pytest.raises(WeightsError) as info:
        checkpoint.read_checkpoint(many.getvalue(), limits)
    assert (info.value.key, info.value.params) == ("weights.err.too_many_records", {"count": 9, "limit": 8})
    # Compressing 30 times is no real checkpoint, even under the size bound.
    assert _refusal(_deflated_bomb(30 << 20)).key == "weights.err.ratio"
    # The legacy (non-zip) format stores tensors raw: its file size is its payload.
    path = tmp_path / "legacy.pth"
    path.write_bytes(b"\x80\x02" + bytes(checkpoint.CHECKPOINT_LIMITS.max_payload_bytes))
    assert _refusal(path).key == "weights.err.too_large"


def test_non_finite_weights_are_refused_by_name():
    state = _state()
    state["layer3.1.bn2.running_var"][:12] = float("nan")
    state["layer3.1.bn2.running_var"][12] = float("inf")
    state["layer4.0.conv1.weight"][0, 0, 0, 0] = -float("inf")  # a later key: not the first
    exc = _refusal(_bytes(state))
    assert (exc.key, exc.params) == ("weights.err.nonfinite", {"key": "layer3.1.bn2.running_var", "count": 13,
                                                              "numel": 256})
    assert "'layer3.1.bn2.running_var' has 13 non-finite values" in str(exc)
    assert "'layer3.1.bn2.running_var'" in exc.text("zh")
    half = {k: v.half() if v.is_floating_point() else v for k, v in _state().items()}
    half["fc.bias"][3] = float("nan")
    assert _refusal(_bytes(half)).params["key"] == "fc.bias"


def test_sources_are_one_table_and_handles_take_the_preset_numbers(tmp_path, monkeypatch):
    assert weights.SOURCES == ("auto", "imagenet", "shapes", "random", "file")
    assert weights.AUTO_ORDER == ("imagenet", "shapes", "random")
    for row in weights.SOURCE_TABLE.values():
        assert row.desc_key in i18n.texts("en") and row.desc_key in i18n.texts("zh")
    preset = ResNet18_Weights.IMAGENET1K_V1.transforms()
    handle = weights.handle_for("random", device="cpu")
    assert (handle.mean, handle.std, handle.image_size, handle.resize_size) == (
        tuple(preset.mean), tuple(preset.std), preset.crop_size[0], preset.resize_size[0])
    image = Image.new("RGB", (300, 200), (200, 30, 90))
    # The handle's preprocess and images.to_tensor with the handle's numbers are the same picture.
    x = images.to_tensor(image, handle.mean, handle.std, handle.image_size, resize=handle.resize_size)
    assert torch.allclose(handle.preprocess(image).unsqueeze(0), x, atol=1e-6)
    assert handle.description == Reason("weights.describe", {"weights": Reason("weights.random"), "device": "cpu"})
    assert handle.description.text("zh").startswith(i18n.t("weights.random", "zh"))
    shapes = weights.handle_for("shapes", device="cpu")
    meta = weights.shapes_meta()
    assert (shapes.mean, shapes.std, shapes.image_size, shapes.resize_size) == (
        tuple(meta["mean"]), tuple(meta["std"]), meta["image_size"], meta["image_size"])


def test_auto_does_not_wait_for_the_network_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(hub.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(hub, "IMAGENET_URL", "http://127.0.0.1:9/resnet18-f37072fd.pth")
    release = threading.Event()

    def silent_network(url, dst, timeout_s):  # a network that answers only when the test says so
        release.wait()
        raise WeightsError("weights.err.no_answer", host="127.0.0.1:9", seconds=timeout_s)

    monkeypatch.setattr(hub, "download", silent_network)
    handle = weights.handle_for("auto", device="cpu", background_download=True)
    probe = hub.imagenet_probe(start=False)
    assert handle.source == "shapes" and probe.state == "running"  # answered while the download waits
    assert handle.skipped["imagenet"] == weights.availability()["imagenet"] == probe.reason
    assert probe.reason.key == "weights.why_not.imagenet_probing"
    assert hub.imagenet_probe() is probe  # one probe per process, not one per call
    release.set()
    assert probe.wait(timeout=30) and probe.state == "failed"
    assert probe.reason.key == "weights.err.no_answer" and weights.availability()["imagenet"] == probe.reason
    assert weights.handle_for("auto", device="cpu", background_download=True).skipped["imagenet"] == probe.reason
    assert hub.imagenet_probe() is probe and hub.imagenet_probe(retry=True) is not probe  # remembered


def test_background_download_is_used_once_cached(tmp_path, monkeypatch):
    data = _bytes(_state())
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        monkeypatch.delenv(hub.OFFLINE_ENV, raising=False)
        monkeypatch.setattr(hub, "IMAGENET_URL", f"http://127.0.0.1:{server.server_address[1]}/{name}")
        probe = hub.imagenet_probe()
        assert probe.wait(timeout=60) and probe.state == "cached" and probe.reason is None
    finally:
        server.shutdown()
        server.server_close()
    handle = weights.handle_for("auto", device="cpu", background_download=True)
    assert handle.source == "imagenet" and torch.equal(handle.model.fc.weight, _state()["fc.weight"])


def test_large_finite_values_are_not_mistaken_for_infinities():
    big = torch.full((64,), 60_000.0, dtype=torch.half)  # finite in fp16, but their fp16 sum would overflow
    assert checkpoint.check_finite({"a": big, "b": torch.full((4,), 3e38), "n": torch.tensor(7)}) is None
    big[5] = float("nan")
    with pytest.raises(WeightsError) as info:
        checkpoint.check_finite({"a": big})
    assert info.value.params == {"key": "a", "count": 1, "numel": 64}


def test_every_reason_key_these_modules_raise_exists_in_both_languages():
    # test_i18n checks t("...") calls; refusals name their keys in Error(...) and Reason(...) instead.
    import re
    from pathlib import Path

    modules = (weights, checkpoint, hub, images, device, fallback)
    code = "".join(Path(m.__file__).read_text() for m in modules)
    keys = set(re.findall(r"""(?:Error|Reason)\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""", code))
    keys |= set(re.findall(r"""key = "([a-z_.]+)" if .* else "([a-z_.]+)\"""", code)[0])
    assert len(keys) > 45
    for lang in ("en", "zh"):
        assert not keys - set(i18n.texts(lang)), sorted(keys - set(i18n.texts(lang)))
    exc = WeightsError("weights.err.nonfinite", key="fc.bias", count=2, numel=1000)
    again = pickle.loads(pickle.dumps(exc))  # process pools and caches keep the key and params
    assert (type(again), again.key, again.params, str(again)) == (type(exc), exc.key, exc.params, str(exc))
