import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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


@pytest.mark.slow
def test_reproduce_tiny_writes_every_figure_and_report(tmp_path):
    out = subprocess.run([sys.executable, "experiments/reproduce.py", "--tiny", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    _check_report(tmp_path, with_sweep=True)


@pytest.mark.slow  # about 2 min on 2 cores: three metric calibrations of 760 evaluations each
def test_reproduce_figures_1_to_3_tiny(tmp_path):
    out = subprocess.run([sys.executable, "experiments/reproduce.py", "--tiny", "--no-sweep", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    _check_report(tmp_path, with_sweep=False)


def _check_report(root: Path, with_sweep: bool) -> None:
    pngs = ["overlap/overlap.png", "init/init.png", "gradients/gradients.png"]
    if with_sweep:
        pngs += ["sweep/sweep_samples.png", "sweep/sweep_spectra.png", "sweep/sweep_profiles.png",
                 "sweep/summary_bars.png", "sweep/summary_curves.png", "last_layer/sweep_profiles.png"]
    for png in pngs:
        with Image.open(root / png) as im:
            im.verify()
        assert (root / png).stat().st_size > 2000
    report = (root / "REPORT.md").read_text()
    for png in pngs:
        assert png in report
    init = json.loads((root / "init" / "init.json").read_text())["metrics"]
    for name, m in init.items():  # the numbers in the report are the ones in the data file
        assert f"| {name} | {m['checkerboard/p2']:.3g} |" in report
    grads = json.loads((root / "gradients" / "gradients.json").read_text())["metrics"]
    for name, m in grads.items():
        assert f"| {name} | {m['checkerboard/p2']:.3g} | {m['checkerboard_fixed/p2']:.3g} |" in report
    assert np.load(root / "init" / "init.npz").files


@pytest.mark.parametrize("script,args", [
    ("bench_spectral.py", ["--n", "64", "--size", "16", "--repeats", "1"]),
    ("bench_upsamplers.py", ["--sizes", "16", "--ngf", "4", "--ndf", "4", "--batch", "4", "--repeats", "1"]),
    ("bench_train.py", ["--steps", "4", "--repeats", "1", "--ks", "2", "+debug=tiny", "eval.every=4",
                        "train.ckpt_every=4"]),
    ("bench_packed.py", ["--ks", "1", "2", "--steps", "2", "--repeats", "1", "--size", "16", "--ngf", "4", "--ndf", "4",
                         "--batch", "8"]),
    ("bench_evaluation.py", ["--repeats", "1", "--steps", "2", "+debug=tiny"]),
])
def test_benchmarks_run_in_tiny_mode(script, args, monkeypatch, capsys):
    """Smoke test only, in this process: the benchmarks print numbers; their speed is never asserted."""
    monkeypatch.setattr(sys, "argv", [script, *args])
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "experiments" / "benchmarks" / script), run_name="__main__")
    out = capsys.readouterr().out
    assert "images/s" in out or "training step" in out


@pytest.mark.slow  # about 3 min on 2 cores; reproduce --tiny runs the same script in CI
def test_calibration_tiny_is_paired_and_repeated(tmp_path):
    """A tiny repeated calibration: the depths detect the grid artifacts at full strength in every
    trial and stay at the false-alarm rate on the border, vignette and texture controls; CE_2 is blind
    to a content-following checkerboard; the false-alarm rate is measured on sets it was not set on."""
    out = subprocess.run([sys.executable, "experiments/calibrate_metrics.py", "--size", "32", "--n", "64",
                          "--num-real", "256", "--trials", "8", "--seed", "1", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    for png in ("calibration_images.png", "calibration_detection.png"):
        with Image.open(tmp_path / png) as im:
            assert im.size[0] > 500
    info = json.loads((tmp_path / "calibration.json").read_text())
    assert info["trials"] == 8 and info["seed"] == 1 and len(info["strengths"]) >= 8
    full = {m: {c: info["detection"][m][i][-1] for i, c in enumerate(info["changes"])} for m in info["detection"]}
    depth, ce = full["checkerboard_depth_excess/p2"], full["checkerboard_excess_db/p2"]
    for grid in ("additive checkerboard", "modulated checkerboard", "zero insertion", "transposed k3 (random)"):
        assert depth[grid] == 1.0, grid
    assert ce["modulated checkerboard"] <= 0.25  # CE_2 reads a content-following pattern as clean
    for control in ("control: dark border", "control: vignette", "control: other texture"):
        assert depth[control] <= 0.5, (control, depth[control])
    assert all(0 <= v <= 1 for v in info["false_alarm"].values())
    assert "| additive checkerboard |" in out.stdout and "false alarms" in out.stdout


@pytest.mark.slow  # two sweeps started as commands, about 45 s
def test_time_sweep_extrapolates_a_tiny_sweep(tmp_path):
    """Smoke test: two short sweeps timed and a line drawn through them; no speed is asserted."""
    out = subprocess.run([sys.executable, "experiments/benchmarks/time_sweep.py", "--experiment", "quick",
                          "--steps", "2", "4", "--out", str(tmp_path), "+debug=tiny", "upsampler=transposed",
                          "seed=0"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "extrapolated to train.steps=4" in out.stdout and "1 job(s)" in out.stdout  # +debug=tiny: 4 steps


def test_fig_detectability_refuses_a_missing_folder_and_a_run_in_two_folders(tmp_path, capsys):
    """The folders are read as gan.summarize reads them: a missing one, or the same run (settings
    and seed) in two, is one error line and exit code 2, and nothing is written."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("fig_detectability", ROOT / "experiments" / "fig_detectability.py")
    fig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fig)
    from tests.test_summarize import fake_job
    fake_job(tmp_path / "a", "0_job", "transposed", 0)
    fake_job(tmp_path / "b", "0_job", "transposed", 0)
    for sweeps in ([tmp_path / "missing"], [tmp_path / "a", tmp_path / "b"]):
        with pytest.raises(SystemExit) as e:
            fig.main([*map(str, sweeps), "--out", str(tmp_path / "out")])
        assert e.value.code == 2 and "error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bench_analyze_prints_a_row_per_size_with_its_growth():
    """Smoke test only: every size gets time and memory beside its baseline; speed is never asserted."""
    out = subprocess.run([sys.executable, "experiments/benchmarks/bench_analyze.py", "--sizes", "16,32", "--images", "8"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| 16 px") or line.startswith("| 32 px")]
    assert len(rows) == 2 and " MB | " in rows[0], out.stdout
    assert re.search(r"\| [0-9.]+x \| [0-9.]+x \|$", rows[1]), out.stdout  # growth of time and memory


def test_fig_marked_shows_the_runs_the_rule_marks(tmp_path):
    """Two runs with sample grids: the one whose last SWD is 2x its best is marked and drawn; the other is not."""
    import importlib.util

    from PIL import Image

    from gan.measure import names as N
    from gan.run.rundir import RunDir
    spec = importlib.util.spec_from_file_location("fig_marked", ROOT / "experiments" / "fig_marked.py")
    fig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fig)
    for i, (name, last) in enumerate([("0_up=a", 100.0), ("1_up=b", 52.0)]):
        run = RunDir(tmp_path / "sweep" / name)
        run.path.mkdir(parents=True)
        (run.path / "config.yaml").write_text(f"seed: {i}\nupsampler:\n  _target_: {name[-1]}\n")
        for step, swd in ((0, 300.0), (100, 60.0), (200, 50.0), (300, last)):
            run.append_metrics({"step": step, N.CE.format(p=2): 0.01, N.SWD: swd, N.HEADLINE: 0.1})
            run.sample_file(step).parent.mkdir(exist_ok=True)
            Image.fromarray(np.full((2 * 17 + 1, 8 * 17 + 1, 3), step % 255, np.uint8)).save(run.sample_file(step))
        run.write_status("finished")
    assert fig.main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out")]) == 0
    info = json.loads((tmp_path / "out" / "marked.json").read_text())
    marked = {r["run"]: r["reason"] for r in info["runs"]}
    assert marked["0_up=a"].startswith("blew up at the end") and marked["1_up=b"] is None
    assert (tmp_path / "out" / "marked.jpg").stat().st_size > 1000
