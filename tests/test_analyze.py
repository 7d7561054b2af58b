import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.utils import save_image

from gan import analyze
from gan.core.runtime import available_memory
from gan.data.imageset import FolderImages, head
from gan.measure import depths as D
from gan.measure import detectors, imagestats, spectral
from gan.run.training import train

ROOT = Path(__file__).resolve().parent.parent


def write_folder(root: Path, n: int = 6, size: int = 16, odd_one: tuple[int, int] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / f"{i}.png")
    if odd_one:
        Image.fromarray(np.zeros((*odd_one, 3), np.uint8)).save(root / "odd.png")
    return root


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gan.analyze", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_analyze_folder_against_tensor_file(tmp_path):
    folder = write_folder(tmp_path / "imgs")
    ref = torch.rand(10, 3, 16, 16) * 2 - 1
    torch.save(ref, tmp_path / "ref.pt")
    out = tmp_path / "out"
    assert analyze.main([str(folder), "--reference", str(tmp_path / "ref.pt"), "--out", str(out), "--detail"]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["options"]["num_images"] == 6 and record["options"]["window"] == "none"
    imgs = analyze.load_folder(folder)[:]
    expected = spectral.checkerboard_energy(imgs, 2).mean().item()
    assert record["metrics"]["checkerboard/p2"] == pytest.approx(expected)
    assert {"checkerboard_excess_db/p2", "spectral/distance", "checkerboard/p4"} <= set(record["metrics"])
    assert "checkerboard/p8" not in record["metrics"]  # periods up to a quarter of the side, as in training
    arrays = np.load(out / "spectra.npz")
    assert {"freqs", "profile", "ref_profile", "log_spectrum", "ce_p2"} <= set(arrays.files)
    for png in ("mean_log_spectrum.png", "radial_profile.png"):
        assert (out / png).stat().st_size > 1000
    (out / "radial_profile.png").unlink()
    assert analyze.main([str(out), "--plot-only"]) == 0  # figures come back from the arrays alone
    assert (out / "radial_profile.png").is_file()


def test_analyze_run_directory_and_dataset_reference(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.steps=2", "eval.figures=false")
    train(cfg)
    out = tmp_path / "analysis"
    result = run_cli(str(cfg.run_dir), "--reference", "deadleaves", "--num-samples", "32", "--out", str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "metrics.json").read_text())
    assert record["options"]["num_images"] == 32 and record["options"]["image_size"] == [16, 16]
    assert record["options"]["periods"] == [2, 4]  # the generator's upsampling factor at 16x16
    assert (out / "mean_log_spectrum.png").is_file() and (out / "spectra.npz").is_file()


def test_npz_nhwc_uint8_is_accepted(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (4, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", images=arr)
    x = analyze.load_tensor_file(tmp_path / "x.npz")[:]
    assert x.shape == (4, 3, 8, 8) and x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("setup,expected", [
    (lambda p: ((p / "empty").mkdir(), p / "empty")[-1], "no image files"),
    (lambda p: write_folder(p / "mixed", odd_one=(8, 8)), "mixed image sizes"),
    (lambda p: write_folder(p / "odd", n=2, size=15), "not divisible by 2"),
    (lambda p: ((p / "bad.txt").write_bytes(b"junk"), p / "bad.txt")[-1], "not a run directory"),
    (lambda p: p / "missing", "no such file"),
    (lambda p: ((p / "c").mkdir(), (p / "c" / "x.png").write_bytes(b"junk"), p / "c")[-1], "unreadable image"),
    (lambda p: ((p / "t.pt").write_bytes(b"truncated"), p / "t.pt")[-1], "cannot read"),
])
def test_bad_inputs_exit_nonzero_with_one_line(tmp_path, capsys, setup, expected):
    target = setup(tmp_path)
    assert analyze.main([str(target), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(target) in err
    assert len(err.strip().splitlines()) == 1


def test_cli_bad_input_has_no_traceback(tmp_path):
    result = run_cli(str(tmp_path / "missing"))
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def save_npz(path: Path, images: np.ndarray) -> Path:
    np.savez(path, images=images)
    return path


@pytest.mark.parametrize("images, reference, expected", [
    (np.full((40, 16, 16, 3), np.nan, np.float32), None, "40 of 40 images hold NaN or Inf pixels (the first: image 0)"),
    (np.where(np.arange(40)[:, None, None, None] == 7, np.inf, 0.5).repeat(16, 1).repeat(16, 2).repeat(3, 3),
     None, "1 of 40 images hold NaN or Inf pixels (the first: image 7)"),
    (np.zeros((40, 16, 16, 1), np.uint8), np.zeros((40, 16, 16, 3), np.uint8), "images have 1 channel(s) but the reference"),
    (np.zeros((50, 7), np.uint8), None, "expected images (N, C, H, W) or (N, H, W, C), got shape (50, 7)"),
])
def test_unusable_pixels_or_channels_are_one_error_line(tmp_path, capsys, images, reference, expected):
    target = save_npz(tmp_path / "x.npz", images)
    args = [str(target), "--out", str(tmp_path / "o")]
    if reference is not None:
        args += ["--reference", str(save_npz(tmp_path / "r.npz", reference))]
    assert analyze.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_a_blank_set_is_a_result_that_says_so(tmp_path, capsys):
    """A collapsed generator's export: no pattern of its own, perfectly detectable; never a traceback."""
    rng = np.random.default_rng(0)
    blank = save_npz(tmp_path / "blank.npz", np.zeros((40, 16, 16, 3), np.uint8))
    real = save_npz(tmp_path / "real.npz", rng.integers(0, 255, (40, 16, 16, 3), dtype=np.uint8))
    assert analyze.main([str(blank), "--reference", str(real), "--out", str(tmp_path / "o"), "--detail"]) == 0
    out = capsys.readouterr().out
    assert "the images are constant (blank): they hold no pattern" in out
    values = json.loads((tmp_path / "o" / "metrics.json").read_text())["metrics"]
    assert values["detect/frank_auc"] == 1.0 and values["detect/durall_auc"] == 1.0
    assert values["checkerboard/p2"] == 0.0


def test_too_few_images_for_the_depths_is_said_and_left_out(tmp_path, capsys):
    few = save_npz(tmp_path / "few.npz", np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8))
    assert analyze.main([str(few), "--out", str(tmp_path / "o"), "--detail"]) == 0
    assert "fewer than 8 images: the depths are left out" in capsys.readouterr().out
    values = json.loads((tmp_path / "o" / "metrics.json").read_text())["metrics"]
    assert np.isnan(values.get("checkerboard_depth/p2", np.nan)) and values["checkerboard/p2"] > 0


def test_the_periods_read_are_stated_and_max_period_limits_them(tmp_path, capsys):
    x = save_npz(tmp_path / "x.npz", np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8))
    assert analyze.main([str(x), "--out", str(tmp_path / "a")]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("periods read"))
    assert line.startswith("periods read: P=2, P=4, P=8, P=16 (the whole grid: P=16, 4 x2 stages)"), line
    assert analyze.main([str(x), "--out", str(tmp_path / "b"), "--max-period", "4"]) == 0
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("periods read"))
    assert "P=4 (the whole grid: P=4, 2 x2 stages)" in line and "P=8 left out: above --max-period 4" in line
    record = json.loads((tmp_path / "b" / "metrics.json").read_text())["options"]
    assert record["periods"] == [2, 4] and record["grid"] == 4 and "16" in record["left_out"]
    assert analyze.main([str(x), "--out", str(tmp_path / "c"), "--max-period", "1"]) == 2


def test_sets_too_large_for_the_memory_together_are_left_on_disk_and_read_a_chunk_at_a_time(tmp_path, monkeypatch,
                                                                                            capsys):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(10):
        save_image(torch.rand(3, 64, 64), folder / f"{i}.png")
    np.save(tmp_path / "ref.npy", np.zeros((6, 64, 64, 3), np.uint8))
    one = analyze.PEAK_PER_IMAGE_BYTE * 4 * 3 * 64 * 64  # what one image costs the analysis in memory
    decoded = []
    read = FolderImages.read
    monkeypatch.setattr(FolderImages, "read", lambda self, i: decoded.append(i) or read(self, i))
    images, reference = analyze.load_folder(folder), analyze.load_tensor_file(tmp_path / "ref.npy")
    assert images.shape == (10, 3, 64, 64) and decoded == [] and isinstance(reference.data, np.memmap)  # not read
    monkeypatch.setattr(analyze, "available_memory", lambda: 16 * one - 1)  # the two sets together do not fit
    assert analyze.in_memory([images, reference]) == [images, reference] and decoded == []
    out = capsys.readouterr().out
    assert "10 images of 3x64x64" in out and "ref.npy: 6 images of 3x64x64" in out and "needs about" in out
    monkeypatch.setattr(analyze, "available_memory", lambda: 16 * one)
    x, r = analyze.in_memory([images, reference])
    assert torch.equal(x, images[:]) and torch.equal(r, -torch.ones(6, 3, 64, 64)) and decoded[:10] == list(range(10))
    assert analyze.in_memory([images, reference], chunked=True) == [images, reference]  # --chunked
    image = one // analyze.PEAK_PER_IMAGE_BYTE  # a set in memory already: its own bytes are held, its work is not
    monkeypatch.setattr(analyze, "available_memory", lambda: (3 * 16 - 10) * image - 1)
    assert analyze.in_memory([x, reference])[1] is reference
    monkeypatch.setattr(analyze, "available_memory", lambda: (3 * 16 - 10) * image)
    assert isinstance(analyze.in_memory([x, reference])[1], torch.Tensor) and analyze.in_memory([x, None]) == [x, None]


def write_cgroup(root: Path, version: int, limit: str, usage: int, inactive: int) -> tuple[Path, Path]:
    """A fake /proc and /sys/fs/cgroup for a process in cgroup ``/job`` (v1: under ``memory/``)."""
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text("MemTotal: 9000000 kB\nMemAvailable: 8000000 kB\n")
    if version == 2:
        (root / "proc" / "self" / "cgroup").write_text("0::/job\n")
        base, files = root / "cg" / "job", ("memory.max", "memory.current", "inactive_file")
    else:
        (root / "proc" / "self" / "cgroup").write_text("5:cpu,cpuacct:/job\n4:memory:/job\n0::/\n")
        base, files = root / "cg" / "memory" / "job", ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                                       "total_inactive_file")
    base.mkdir(parents=True)
    (base / files[0]).write_text(limit + "\n")
    (base / files[1]).write_text(f"{usage}\n")
    (base / "memory.stat").write_text(f"anon 1\n{files[2]} {inactive}\n")
    return root / "proc", root / "cg"


@pytest.mark.parametrize("version", [1, 2])
def test_the_memory_available_is_a_containers_limit_where_that_leaves_less(tmp_path, version):
    gb = 10**9
    proc, cg = write_cgroup(tmp_path / "a", version, str(3 * gb), 2 * gb, gb // 2)
    assert available_memory(proc, cg) == 3 * gb - 2 * gb + gb // 2  # the file cache can be reclaimed
    proc, cg = write_cgroup(tmp_path / "b", version, str(20 * gb), gb, 0)
    assert available_memory(proc, cg) == 8000000 * 1024  # the machine's MemAvailable leaves less
    proc, cg = write_cgroup(tmp_path / "c", version, "max" if version == 2 else str(2**63 - 4096), gb, 0)
    assert available_memory(proc, cg) == 8000000 * 1024  # no limit
    assert available_memory(tmp_path / "none", tmp_path / "none") is None


def test_the_detectors_read_at_most_the_images_whose_features_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(detectors, "MAX_PIXELS", 40 * 16 * 16)
    assert detectors.max_images(16, 16) == 40 and detectors.max_images(1024, 1024) == 32  # never below the 32 asked
    images, reference = torch.rand(50, 3, 16, 16) * 2 - 1, torch.rand(60, 3, 16, 16) * 2 - 1
    given = []
    detectability = detectors.detectability
    monkeypatch.setattr(detectors, "detectability", lambda f, r, seed: given.append((f[:], r[:])) or detectability(f, r, seed))
    values = analyze.analyze(images, reference, tmp_path / "o")
    assert [(len(f), len(r)) for f, r in given] == [(40, 40)]
    assert torch.equal(given[0][0], images[:40]) and torch.equal(given[0][1], reference[:40])
    record = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert record["options"]["num_detector"] == [40, 40] and "at most the first 40 images" in capsys.readouterr().out
    assert 0 <= values["detect/frank_auc"] <= 1


def test_a_tensor_file_read_in_chunks_is_mapped_from_disk_and_converted_a_chunk_at_a_time(tmp_path, monkeypatch,
                                                                                          capsys):
    rng = np.random.default_rng(4)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8))  # (N, H, W, C) uint8
    lazy = analyze.load_tensor_file(tmp_path / "x.npy")
    whole = lazy[:]
    assert isinstance(whole, torch.Tensor) and isinstance(lazy.data, np.memmap) and lazy.shape == whole.shape
    assert torch.equal(lazy[:], whole) and torch.equal(lazy[5:9], whole[5:9]) and torch.equal(lazy[-1], whole[-1])
    assert torch.equal(lazy[torch.tensor([7, 2])], whole[[7, 2]]) and torch.equal(head(lazy, 3)[:], whole[:3])
    x = rng.random((40, 3, 16, 16), dtype=np.float32)
    x[29, 1, 3, 3] = np.nan
    np.save(tmp_path / "bad.npy", x)
    monkeypatch.setattr(imagestats, "CHUNK_VALUES", 8 * 3 * 16 * 16)  # the NaN in the fourth chunk
    assert analyze.main([str(tmp_path / "bad.npy"), "--chunked", "--out", str(tmp_path / "o")]) == 2
    assert "1 of the 8 images read hold NaN or Inf pixels (the first: image 29)" in capsys.readouterr().err


def write_images(root: Path, x: torch.Tensor) -> Path:
    """Images ``(N, 3, S, S)`` in [-1, 1] as 8-bit PNGs; returns the folder."""
    root.mkdir(parents=True, exist_ok=True)
    pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(root / f"{i:03d}.png")
    return root


def test_a_folder_read_in_pieces_gives_the_numbers_of_the_folder_in_memory(tmp_path, monkeypatch):
    """Every number (detectors and SWD included) from sets read a few images at a time, with the
    depths' groups and the reference's groups (of the images' count, 34: two of them and 7 images
    left over) split across pieces, equals the in-memory analysis within float error; no read asks
    for more than a chunk."""
    g = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    grid = 0.2 * ((yy + xx) % 2).float() - 0.1
    fake = write_images(tmp_path / "fake", (0.6 * torch.rand(34, 3, 32, 32, generator=g) - 0.3 + grid).clamp(-1, 1))
    real = write_images(tmp_path / "real", 0.6 * torch.rand(75, 3, 32, 32, generator=g) - 0.3)  # 2 groups of 34, 7 left
    in_memory = analyze.analyze(analyze.load_folder(fake)[:], analyze.load_folder(real)[:], tmp_path / "a",
                                detail=True, swd=(16, 32))
    reads = []
    read = FolderImages.__getitem__
    monkeypatch.setattr(FolderImages, "__getitem__", lambda self, i: reads.append(read(self, i)) or reads[-1])
    monkeypatch.setattr(imagestats, "CHUNK_VALUES", 7 * 3 * 32 * 32)  # chunks of 7: across the groups, one past them
    monkeypatch.setattr(D, "PIECE_VALUES", 3 * 32 * 32)  # the depths' groups (2 and 4 images) an image at a time
    chunked = analyze.analyze(analyze.load_folder(fake), analyze.load_folder(real), tmp_path / "b", detail=True,
                              swd=(16, 32))
    assert max(len(x) for x in reads if x.ndim == 4) <= 7
    assert chunked.keys() == in_memory.keys() and any(k.startswith("detect/") for k in chunked)
    for k, v in in_memory.items():
        assert chunked[k] == pytest.approx(v, rel=1e-5, abs=1e-9, nan_ok=True), k


def test_a_folder_is_read_up_to_num_samples(tmp_path, capsys):
    folder = write_folder(tmp_path / "imgs", n=6)
    assert analyze.load_images(str(folder), 4).shape == (4, 3, 16, 16)
    assert "the first 4 of its 6 images by path (--num-samples)" in capsys.readouterr().out
    assert analyze.load_images(str(folder), 100).shape == (6, 3, 16, 16)
