"""The torch hub cache for ImageNet's ResNet-18 weights: where the file lives, a download that gives up on time
and checks the hash, and the one background download ("probe") per process that lets "auto" answer at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path

import torch
from torchvision.models import ResNet18_Weights

from resnet_viz.model.config import DEFAULTS
from resnet_viz.text.errors import Reason, WeightsError

__all__ = ["IMAGENET_URL", "OFFLINE_ENV", "ImagenetProbe", "download", "imagenet_cache_path", "imagenet_probe"]

IMAGENET_URL = ResNet18_Weights.IMAGENET1K_V1.url
OFFLINE_ENV = "RESNET_VIZ_OFFLINE"


def _hub_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_cache_path() -> Path:
    """Where torch hub keeps (and looks for) resnet18-f37072fd.pth, under $TORCH_HOME."""
    return _hub_dir() / Path(IMAGENET_URL).name


def download(url: str, dst: Path, timeout_s: float) -> None:
    """Fetch url into dst, giving up if no answer comes within timeout_s.

    urllib's timeout does not cover DNS resolution, which can hang for tens of seconds offline, so
    the request runs in a daemon thread and we stop waiting for it after timeout_s.
    """
    answered = threading.Event()
    done = threading.Event()
    error: list[BaseException] = []

    def fetch() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                answered.set()
                dst.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=dst.parent, delete=False) as tmp:
                    shutil.copyfileobj(response, tmp)
                _check_hash(Path(tmp.name), dst.name)
                os.replace(tmp.name, dst)
        except BaseException as exc:
            error.append(exc)
        finally:
            answered.set()
            done.set()

    host = url.split("/")[2]
    threading.Thread(target=fetch, name="imagenet-download", daemon=True).start()
    if not answered.wait(timeout_s + 0.5):
        raise WeightsError("weights.err.no_answer", host=host, seconds=timeout_s)
    done.wait()
    if error:
        exc = error[0]
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            raise WeightsError("weights.err.no_answer", host=host, seconds=timeout_s) from exc
        if isinstance(exc, WeightsError):
            raise exc
        raise WeightsError("weights.err.download", host=host, detail=str(exc)) from exc


def _check_hash(path: Path, name: str) -> None:
    # torch hub names files <stem>-<first 8 hex of sha256>.pth; a mismatch means a broken download.
    prefix = name.rsplit("-", 1)[-1].split(".")[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(prefix):
        path.unlink(missing_ok=True)
        raise WeightsError("weights.err.hash", got=digest[:8], want=prefix)


class ImagenetProbe:
    """One background download of the ImageNet weights into the torch hub cache, per (url, path), per process.

    Lets "auto" answer at once with the shapes weights while the download runs or fails (offline it costs up
    to download_timeout_s + 0.5 s); a later handle_for("auto") finds the cached file. The outcome is remembered:
    a failed probe is not retried in this process unless asked (retry=True).
    """

    def __init__(self, url: str, path: Path) -> None:
        self.url, self.path = url, path
        self._done = threading.Event()
        self._error: Reason | None = None
        threading.Thread(target=self._run, name="imagenet-probe", daemon=True).start()

    def _run(self) -> None:
        try:
            download(self.url, self.path, DEFAULTS.download_timeout_s)
        except WeightsError as exc:
            self._error = exc.reason
        except Exception as exc:  # never let the thread die silently: the reason is shown in the sidebar
            self._error = Reason("weights.err.download", {"host": self.url.split("/")[2], "detail": str(exc)})
        finally:
            self._done.set()

    @property
    def state(self) -> str:
        """"running", "cached" (the file is in the hub cache) or "failed" (see reason)."""
        if not self._done.is_set():
            return "running"
        return "cached" if self._error is None and self.path.exists() else "failed"

    @property
    def reason(self) -> Reason | None:
        """Why ImageNet is not usable yet: None once cached."""
        state = self.state
        if state == "running":
            return Reason("weights.why_not.imagenet_probing", {"path": str(self.path)})
        return None if state == "cached" else (self._error or Reason("weights.err.offline", {"path": str(self.path)}))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the probe has finished (True) or timeout seconds have passed (False)."""
        return self._done.wait(timeout)


_PROBES: dict[tuple[str, Path], ImagenetProbe] = {}
_PROBES_LOCK = threading.Lock()


def imagenet_probe(start: bool = True, retry: bool = False) -> ImagenetProbe | None:
    """The background ImageNet download for the current URL and cache path; never blocks.

    Starts it when none has run yet (start=True), or again after a failure (retry=True); returns None when
    none has started and start is False, or when downloads are off ($RESNET_VIZ_OFFLINE).
    """
    if os.environ.get(OFFLINE_ENV):
        return None
    key = (IMAGENET_URL, imagenet_cache_path())
    with _PROBES_LOCK:
        probe = _PROBES.get(key)
        if (probe is None and start) or (probe is not None and retry and probe.state == "failed"):
            probe = _PROBES[key] = ImagenetProbe(*key)
        return probe
