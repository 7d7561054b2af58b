"""A screenshot of TensorBoard's Custom Scalars page for a sweep folder, as a user sees it.

``python experiments/screenshot_tensorboard.py multirun/tour --out docs/tour_tensorboard.png``
starts ``tensorboard --logdir SWEEP`` on a free local port, loads its *Custom Scalars* page in a
headless Chromium (``chromium`` or ``google-chrome`` on the PATH; Debian: ``apt install chromium``)
and saves what the browser draws. The README's screenshot of the tour comes from this script.
"""
from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float) -> None:
    """Until ``url`` answers (TensorBoard has read the event files), or ``TimeoutError``."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def screenshot(logdir: Path, out: Path, page: str = "custom_scalars", size: tuple[int, int] = (1400, 1000),
               render_ms: int = 15000) -> Path:
    """Serve ``logdir`` with TensorBoard and save ``page`` as ``out`` (PNG)."""
    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        raise SystemExit(f"error: no headless browser found ({', '.join(BROWSERS)}); Debian: apt install chromium")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", str(port),
                               "--host", "127.0.0.1", "--reload_interval", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/data/runs", 120)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                            f"--virtual-time-budget={render_ms}", f"--screenshot={out.resolve()}",
                            f"http://127.0.0.1:{port}/#{page}"], check=True, capture_output=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("logdir", type=Path, help="a sweep or run folder (TensorBoard's --logdir)")
    ap.add_argument("--out", type=Path, default=Path("docs/tour_tensorboard.png"))
    ap.add_argument("--page", default="custom_scalars", help="TensorBoard's page: custom_scalars, scalars, images, ...")
    args = ap.parse_args(argv)
    if not args.logdir.is_dir():
        print(f"error: {args.logdir}: no such folder", file=sys.stderr)
        return 2
    print(f"wrote {screenshot(args.logdir, args.out, args.page)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
