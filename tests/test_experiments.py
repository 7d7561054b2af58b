import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def test_fig_overlap_writes_png_and_arrays(tmp_path):
    out = subprocess.run([sys.executable, "experiments/fig_overlap.py", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    with Image.open(tmp_path / "overlap.png") as im:
        assert im.size[0] > 500 and im.size[1] > 500
    a = np.load(tmp_path / "overlap.npz")
    assert a["1d_k3_s2"].tolist()[:5] == [1, 1, 2, 1, 2]
    assert len(a.files) == 4 * 3 * 2 + 2 * 3
