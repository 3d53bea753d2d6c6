"""Everything that touches a run's files: atomic writes, pickle-free weights, verified checkpoints, one run per
folder, and refusing an unwritable or full folder before any work starts.

* **Weights** are `safetensors <https://github.com/huggingface/safetensors>`_ files (tensors and a string
  header, nothing executable) with the model signature in the header; the result record (settings,
  provenance) is the JSON file beside them. A ``.pt`` file is never unpickled as weights.
* **Checkpoints** (model, optimizer, RNG state, step) are ``checkpoint-<step>.pt`` files read with
  ``torch.load(weights_only=True)``, which admits tensors and plain containers only, so a planted pickle is
  refused without running. Each has a sidecar ``checkpoint-<step>.json`` with its size and SHA-256, written
  *after* the checkpoint; the last two are kept. A checkpoint whose sidecar is missing or does not match
  (a kill in the middle of a write, a truncated copy, a flipped bit) is skipped, and the run resumes from the
  previous intact one, saying so.
* **One run per folder**: :class:`RunLock` holds an exclusive ``flock`` on ``<out>/.lock`` and writes its PID
  and command into it; a second run is refused naming the first; the kernel drops the lock when its process
  dies (even by SIGKILL), so a stale lock file is simply taken over, saying whose it was.
* **Before work**: :func:`preflight` creates the folder, writes and removes a probe file and checks the free
  space, so a read-only folder or a full disk is refused in well under a second.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

WEIGHTS_FORMAT = "mmsr-weights-1"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d{8})\.pt$")
KEEP_CHECKPOINTS = 2


class StorageError(OSError):
    """A run folder cannot be written (read-only, full disk) or holds no usable checkpoint."""


class RunFolderBusyError(RuntimeError):
    """Another live process is running in this output folder."""


class UnsafeFileError(ValueError):
    """A file would need unpickling (arbitrary code) to be read, and is refused."""


def _say(msg: str) -> None:
    print(f"mmsr: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- atomic writes
def _atomic(path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, then rename it into place:
    readers never see a half-written file, and a failed write (full disk, kill) leaves the old file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, (Path, torch.device)):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path, obj) -> Path:
    """Write ``obj`` as JSON atomically (see :func:`_atomic`)."""

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=_json_default)
            f.write("\n")

    return _atomic(path, write)


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------ weights
def save_weights(path, state_dict: dict, signature: dict) -> Path:
    """Write ``state_dict`` as safetensors with the model ``signature`` in its header (atomically)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    header = {"format": WEIGHTS_FORMAT, "signature": json.dumps(signature, sort_keys=True)}
    return _atomic(path, lambda tmp: save_file(tensors, tmp, metadata=header))


def read_weights(path) -> tuple[dict, dict]:
    """``(state_dict, signature)`` of a safetensors weights file; anything else is refused without reading it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise UnsafeFileError(f"{path}: mmsr reads weights only from .safetensors files (a {path.suffix or 'bare'} "
                              f"file may need unpickling, which can run code); convert a file you trust with "
                              f"python -m mmsr.storage convert {path.name}")
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise UnsafeFileError(f"{path} is not a readable safetensors file ({e})") from None
    if header.get("format") != WEIGHTS_FORMAT or "signature" not in header:
        raise UnsafeFileError(f"{path} is a safetensors file but not mmsr weights (no {WEIGHTS_FORMAT} header)")
    return state, json.loads(header["signature"])


def tensors_digest(state_dict: dict) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of every tensor: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        # reshape(-1): a 0-d tensor (a scalar parameter) cannot be viewed as bytes; the bytes are the same
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def convert_legacy_weights(pt_path, out_path=None) -> Path:
    """Turn a trusted ``weights.pt`` of mmsr <= 0.1 into ``.safetensors``. It is read with
    ``weights_only=True`` (tensors and plain containers only), so even this one-off path runs no pickled code."""
    pt_path = Path(pt_path)
    try:
        obj = torch.load(pt_path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- torch raises several types for refused content
        raise UnsafeFileError(f"{pt_path} holds more than tensors and plain values; refused ({type(e).__name__})") \
            from None
    if not isinstance(obj, dict) or "model" not in obj or "signature" not in obj:
        raise UnsafeFileError(f"{pt_path} is not an mmsr weights file")
    out = Path(out_path) if out_path is not None else pt_path.with_suffix(".safetensors")
    return save_weights(out, obj["model"], obj["signature"])


# ------------------------------------------------------------------------------------------- checkpoints
def rng_state() -> dict:
    """Torch, NumPy and CUDA RNG states as tensors and plain values (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _torch_save(obj, tmp) -> None:
    torch.save(obj, tmp)


class CheckpointStore:
    """The checkpoints of one run folder: ``save(state, step)`` and ``latest()`` (see the module docstring)."""

    def __init__(self, folder, keep: int = KEEP_CHECKPOINTS):
        self.folder = Path(folder)
        self.keep = keep

    def path(self, step: int) -> Path:
        return self.folder / f"checkpoint-{step:08d}.pt"

    def steps(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := CHECKPOINT_RE.match(p.name)))

    def save(self, state: dict, step: int) -> Path:
        """Write checkpoint ``step`` and its sidecar, then drop all but the newest ``keep``. On a full disk the
        older checkpoints stay as they were and the error says which one is intact."""
        path = self.path(step)
        try:
            _atomic(path, lambda tmp: _torch_save(state, tmp))
            atomic_write_json(path.with_suffix(".json"), {"step": step, "bytes": path.stat().st_size,
                                                          "sha256": sha256_file(path),
                                                          "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                       time.gmtime())})
        except OSError as e:
            good = [s for s in self.steps() if s != step and self._intact(self.path(s))[0]]
            path.unlink(missing_ok=True)
            last = f"the last good checkpoint ({self.path(good[-1]).name}) is intact" if good else \
                "no earlier checkpoint exists"
            raise StorageError(e.errno, f"could not write {path.name} in {self.folder}: "
                                        f"{e.strerror or e}; {last}; free space and re-run the same command "
                                        f"to resume") from None
        for old in self.steps()[:-self.keep]:
            self.path(old).unlink(missing_ok=True)
            self.path(old).with_suffix(".json").unlink(missing_ok=True)
        return path

    def _intact(self, path: Path) -> tuple[bool, str]:
        side = path.with_suffix(".json")
        if not side.is_file():
            return False, "its sidecar record is missing (interrupted write)"
        try:
            rec = json.loads(side.read_text())
        except (OSError, ValueError):
            return False, "its sidecar record is unreadable"
        if path.stat().st_size != rec.get("bytes"):
            return False, f"{path.stat().st_size} bytes instead of {rec.get('bytes')} (truncated)"
        if sha256_file(path) != rec.get("sha256"):
            return False, "SHA-256 mismatch (corrupt)"
        return True, ""

    def latest(self, map_location="cpu") -> Optional[tuple[dict, Path]]:
        """The newest intact checkpoint as ``(state, path)``, ``None`` in a folder without checkpoints.

        Damaged ones are skipped with a message; if checkpoints exist but none is intact, :class:`StorageError`.
        """
        for tmp in self.folder.glob("checkpoint-*.tmp") if self.folder.is_dir() else ():
            tmp.unlink(missing_ok=True)  # left by a write that was killed
        legacy = self.folder / "checkpoint.pt"
        steps = self.steps()
        if not steps:
            if legacy.is_file():
                raise StorageError(errno.EINVAL, f"{legacy} was written by an older mmsr (a pickle, not read); "
                                                 f"start in a fresh folder or delete it")
            return None
        skipped = []
        for step in reversed(steps):
            path = self.path(step)
            ok, why = self._intact(path)
            if ok:
                try:
                    state = torch.load(path, map_location=map_location, weights_only=True)
                except Exception as e:  # noqa: BLE001 -- refused pickle content raises several types
                    raise UnsafeFileError(f"{path} holds more than tensors and plain values and is refused "
                                          f"without running it ({type(e).__name__})") from None
                if skipped:
                    _say(f"{'; '.join(skipped)}; resuming from {path.name} (step {step})")
                return state, path
            skipped.append(f"skipping {path.name}: {why}")
        raise StorageError(errno.EIO, f"no intact checkpoint in {self.folder} ({'; '.join(skipped)}); "
                                      f"delete the checkpoint-* files to start over")


# ------------------------------------------------------------------------------------------------ the lock
_HELD: dict[str, list] = {}  # realpath -> [file object, depth]: re-entrant within one process


class RunLock:
    """Exclusive use of a run folder by one process (see the module docstring). Re-entrant in one process."""

    def __init__(self, folder, command: Optional[str] = None):
        self.folder = Path(folder)
        self.command = command or " ".join(sys.argv) or sys.executable
        self.key = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / ".lock"
        key = os.path.realpath(path)
        if key in _HELD:
            _HELD[key][1] += 1
            self.key = key
            return
        f = open(path, "a+")
        try:
            import fcntl

            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = _parse_lock(f.read())
                f.close()
                raise RunFolderBusyError(f"{self.folder} is in use by PID {holder.get('pid', '?')} "
                                         f"({holder.get('command', 'unknown command')}, since "
                                         f"{holder.get('since', '?')}); wait for it or choose another output "
                                         f"folder") from None
        except ImportError:  # no fcntl (Windows): fall back on the PID written in the file
            f.seek(0)
            holder = _parse_lock(f.read())
            if holder.get("pid") and holder["pid"] != os.getpid() and _alive(holder["pid"]):
                f.close()
                raise RunFolderBusyError(f"{self.folder} is in use by PID {holder['pid']} "
                                         f"({holder.get('command')}); wait for it or choose another folder")
        f.seek(0)
        previous = _parse_lock(f.read())
        if previous.get("pid") and previous["pid"] != os.getpid():
            _say(f"taking over the stale lock of PID {previous['pid']} in {self.folder} (that process is gone)")
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "command": self.command,
                            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        f.flush()
        _HELD[key] = [f, 1]
        self.key = key

    def release(self) -> None:
        if self.key is None or self.key not in _HELD:
            return
        entry = _HELD[self.key]
        entry[1] -= 1
        if entry[1] == 0:
            f = entry[0]
            f.seek(0)
            f.truncate()
            f.flush()
            f.close()  # closing drops the flock
            del _HELD[self.key]
        self.key = None


def _parse_lock(text: str) -> dict:
    try:
        d = json.loads(text)
        return d if isinstance(d, dict) else {}
    except ValueError:
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# ------------------------------------------------------------------------------------------------ preflight
def _write_probe(path: Path, nbytes: int) -> None:
    with open(path, "wb") as f:
        f.write(b"\0" * nbytes)
        f.flush()
        os.fsync(f.fileno())


def preflight(folder, need_bytes: int = 1 << 20, what: str = "output folder") -> Path:
    """Refuse, in well under a second, a ``folder`` that cannot be created or written, or whose disk has less
    than ``need_bytes`` free (the size of what the run will write: checkpoints, weights, records)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        try:
            _write_probe(probe, min(int(need_bytes), 1 << 16))
        finally:
            if probe.exists():
                probe.unlink()
        free = shutil.disk_usage(folder).free
    except OSError as e:
        reason = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "permission denied", errno.ENOSPC: "no space left on device"}.get(
            e.errno, e.strerror or str(e))
        raise StorageError(e.errno, f"cannot write to the {what} {folder}: {reason}") from None
    if free < need_bytes:
        raise StorageError(errno.ENOSPC, f"not enough free space for the {what} {folder}: the run needs about "
                                         f"{need_bytes / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free")
    return folder


def main(argv=None) -> int:
    """``python -m mmsr.storage convert FILE.pt [OUT.safetensors]``: convert trusted legacy weights."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m mmsr.storage")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="legacy weights.pt (read with weights_only=True) -> .safetensors")
    c.add_argument("pt")
    c.add_argument("out", nargs="?")
    args = ap.parse_args(argv)
    print(convert_legacy_weights(args.pt, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
