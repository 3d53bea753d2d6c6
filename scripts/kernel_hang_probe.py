"""Probe the idle-kernel hang of issue #14: run many tiny cells through a Jupyter kernel, one after another, the
way a notebook executor does, and count the requests the kernel never answers in time.

    python scripts/kernel_hang_probe.py --cells 2000 --timeout 10 [--kernels K] [--kernel-path DIR]

``--kernel-path`` puts DIR first on the kernel's PYTHONPATH, so another ipykernel (e.g. one installed with
``pip install --no-deps --target DIR ipykernel==7.2.0``) can be probed from the same environment.

When a reply is late, the probe waits as long again untouched, then tells three explanations apart:

* a slow cell -- the reply arrives in the extra wait;
* the kernel is stuck -- nothing arrives, whatever the client does;
* the request sits unread in the kernel's shell socket (the mechanism of ipython/ipykernel#1554: in ipykernel 7 the
  shell replies are sent raw from the shell-channel thread while requests are read through a ZMQStream on the same
  socket, and a raw send can swallow the stream's edge-triggered wake-up) -- then any later event on that socket, such
  as a second client connecting and asking for ``kernel_info``, releases it and the late reply arrives at once.

The result is one JSON line: ipykernel version, kernels, cells, late replies (answered later, released by the nudge),
seconds and load. Measured results are in book/running.md ("If a chapter stalls").
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time

from jupyter_client import KernelManager


#: what the book's cells do, in miniature: compute, print, a progress bar's burst of carriage returns on stderr,
#: a figure, and output from a background thread (a progress bar's monitor thread writes like this)
CELLS = (
    "x = sum(range(1000 + {i}))",
    "print({i})",
    "import sys\nfor k in range(50): sys.stderr.write(f'\\r{{k}}/50'); sys.stderr.flush()",
    "import matplotlib; matplotlib.use('agg'); import matplotlib.pyplot as plt\n"
    "from IPython.display import display\nf = plt.figure(figsize=(1, 1)); plt.plot([0, {i}]); display(f); plt.close(f)",
    "import threading\nt = threading.Thread(target=print, args=('bg {i}',)); t.start(); t.join()",
)


def _wait_for(get, match, timeout: float):
    """The first message from ``get(timeout=...)`` that ``match``es within ``timeout`` seconds, or None."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        try:
            msg = get(timeout=left)
        except queue.Empty:
            return None
        if match(msg):
            return msg
    return None


def _reply(kc, msg_id: str, timeout: float):
    """The shell reply to ``msg_id`` within ``timeout`` seconds, or None."""
    return _wait_for(kc.get_shell_msg, lambda m: m["parent_header"].get("msg_id") == msg_id, timeout)


def _drain_iopub(kc, msg_id: str, timeout: float) -> bool:
    """Read IOPub until the kernel reports idle for ``msg_id``; False if that does not come within ``timeout``."""
    return _wait_for(kc.get_iopub_msg, lambda m: (m["parent_header"].get("msg_id") == msg_id
                                                  and m["msg_type"] == "status"
                                                  and m["content"]["execution_state"] == "idle"), timeout) is not None


def _nudge(km) -> None:
    """A second client connects and asks for kernel_info: an event on the kernel's shell socket."""
    kc2 = km.client()
    kc2.start_channels()
    try:
        kc2.kernel_info()
        _wait_for(kc2.get_shell_msg, lambda m: True, 5)
    finally:
        kc2.stop_channels()


def _start(kernel_path: str | None):
    env = dict(os.environ)
    if kernel_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (kernel_path, env.get("PYTHONPATH")) if p)
    km = KernelManager(kernel_name="python3")   # the kernel the executor uses (the environment's own)
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)   # what nbclient does: kernel_info requests until one is answered
    return km, kc


def _run_cells(km, kc, first: int, n: int, timeout: float, late: list) -> bool:
    """Run ``n`` cells; record late replies in ``late``. False if the kernel is stuck for good."""
    for i in range(first, first + n):
        msg_id = kc.execute(CELLS[i % len(CELLS)].format(i=i))
        if _reply(kc, msg_id, timeout) is None:
            # late: give it as long again untouched (a slow cell answers now), then nudge (a request left unread
            # in the shell socket answers only now), else the kernel is stuck
            slow = _reply(kc, msg_id, timeout) is not None
            released = not slow and (_nudge(km) or _reply(kc, msg_id, 5) is not None)
            late.append({"cell": i, "answered_later": slow, "released_by_nudge": released})
            if not (slow or released):
                return False
        _drain_iopub(kc, msg_id, timeout)
    return True


def _version(kc) -> str:
    msg_id = kc.execute("import ipykernel; print(ipykernel.__version__)")
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
            version = msg["content"]["text"].strip()
            break
    _reply(kc, msg_id, 30)
    _drain_iopub(kc, msg_id, 30)
    return version


def probe(cells: int, timeout: float, kernel_path: str | None = None, kernels: int = 1) -> dict:
    """``kernels`` fresh kernels, each started as nbclient starts one and then given ``cells`` cells."""
    if cells < 1 or timeout <= 0 or kernels < 1:
        raise ValueError(f"cells, kernels must be >= 1 and timeout > 0, got {cells}, {kernels}, {timeout}")
    late, version, t0 = [], None, time.monotonic()
    for k in range(kernels):
        km, kc = _start(kernel_path)
        try:
            before = len(late)
            alive = _run_cells(km, kc, 0, cells, timeout, late)
            for entry in late[before:]:
                entry["kernel"] = k
            version = version or (_version(kc) if alive else None)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return {"ipykernel": version, "kernels": kernels, "cells_per_kernel": cells, "timeout_s": timeout,
            "late_replies": len(late), "answered_later": sum(e["answered_later"] for e in late),
            "released_by_nudge": sum(e["released_by_nudge"] for e in late),
            "late": late[:20], "seconds": round(time.monotonic() - t0, 1), "load_1min": round(os.getloadavg()[0], 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds a reply may take before it counts as late")
    ap.add_argument("--kernels", type=int, default=1,
                    help="fresh kernels to start one after another (the first cells of a kernel are the suspects)")
    ap.add_argument("--kernel-path", help="directory put first on the kernel's PYTHONPATH (another ipykernel)")
    args = ap.parse_args(argv)
    print(json.dumps(probe(args.cells, args.timeout, args.kernel_path, args.kernels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
