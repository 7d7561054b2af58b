"""The built wheel carries the config tree: an installed copy finds its presets by name."""
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gan, sys
from pathlib import Path
from gan import build
from gan.core.config import presets
assert Path(gan.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), gan.__file__
names = presets("upsampler")
assert len(names) >= 10, names
for name in names:
    up = build.upsampler(name, 4, 4)
print(gan.core.config.CONF_DIR)
"""


def test_installed_wheel_finds_its_presets(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(dist.glob("*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(site)
    assert "gan/conf/train.yaml" in names and "gan/conf/upsampler/transposed.yaml" in names
    work = tmp_path / "elsewhere"  # not the checkout: `import gan` must find the unpacked copy
    work.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    probe = subprocess.run([sys.executable, "-c", PROBE, str(site)], cwd=work, env=env, capture_output=True,
                           text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.strip() == str((site / "gan" / "conf").resolve())
    np.save(work / "x.npy", np.random.default_rng(0).random((8, 3, 16, 16), dtype=np.float32) * 2 - 1)
    analysis = subprocess.run([sys.executable, "-m", "gan.analyze", "x.npy", "--reference", "deadleaves",
                               "--num-samples", "16", "--out", "out"], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
    assert analysis.returncode == 0, analysis.stderr[-3000:]
    assert "checkerboard_depth_excess/grid" in analysis.stdout and (work / "out" / "metrics.json").is_file()
