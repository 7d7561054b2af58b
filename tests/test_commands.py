"""Commands either do what they say or change nothing: a refused command writes no file and makes
no folder, a continued run keeps the record of the command that started it, every error is one
line, and gan.analyze only reads its inputs."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gan import analyze
from gan.measure import names as N
from gan.run import checkpoint as ckpt
from gan.run import training
from gan.run.rundir import RunDir
from tests.conftest import ROOT, cli

TRAIN = [sys.executable, str(ROOT / "train.py")]
run = cli  # the command in this process: the same code from argument checks to exit code


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (and every folder) with the hash of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def one_error_line(out: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a refused command (nowhere else, no traceback)."""
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: "), out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return errors[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A folder in which ``python train.py debug=tiny`` has finished one run (outputs/...)."""
    cwd = tmp_path_factory.mktemp("cwd")
    out = run(cwd, "debug=tiny")
    assert out.returncode == 0, out.stderr[-2000:]
    return cwd


def test_a_finished_run_answers_before_building_data_or_networks(finished, monkeypatch):
    def heavy(*args, **kwargs):
        raise AssertionError("a finished run built its data or networks")

    monkeypatch.setattr(training, "build_dataset", heavy)
    monkeypatch.setattr(training, "new_state", heavy)
    (folder,) = (finished / "outputs").iterdir()
    before = snapshot(folder)
    out = run(finished, "debug=tiny")
    assert out.returncode == 0, out.stderr[-2000:]
    assert N.HEADLINE in out.stdout  # its closing numbers, from its records
    assert {k: v for k, v in snapshot(folder).items() if "train.log" not in k and ".hydra" not in k} == \
        {k: v for k, v in before.items() if "train.log" not in k and ".hydra" not in k}


def test_refused_commands_leave_every_record_byte_identical(finished, tmp_path):
    unreadable = tmp_path / "no_images"
    unreadable.mkdir()
    (unreadable / "broken.png").write_bytes(b"not a png")
    before = snapshot(finished)
    for args, says in [(("debug=tiny", "data=folder", f"data.root={unreadable}"), "no readable images"),  # nothing to read
                       (("debug=tiny", "train.lr_g=-1"), "train.lr_g"),            # a bad value, same run
                       (("debug=tiny", "train.resume=false"), "already holds a run"),  # would mix two runs
                       (("debug=tiny", "seed=7", "train.batch_size=0"), "train.batch_size"),  # a new run
                       (("debug=tiny", "data=folder"), "data.root")]:                # data that is not there
        out = run(finished, *args)
        assert out.returncode == 2, (args, out.stderr[-2000:])
        assert says in one_error_line(out)
        assert snapshot(finished) == before, args


def test_misspelled_group_option_is_one_line_with_the_closest_name(tmp_path):
    for args, closest in [(("upsampler=resize_nearst",), "resize_nearest"),
                          (("-m", "upsampler=transposed,pixel_shufle"), "pixel_shuffle"),
                          (("experiment=qiuck",), "quick")]:
        out = run(tmp_path, *args)
        assert out.returncode == 2
        line = one_error_line(out)
        assert f"did you mean {closest}?" in line and "options: " in line
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_override_is_one_line_that_says_how_to_quote_it(tmp_path):
    for args, says in [(("train.steps=[",), "cannot read this override"),
                       (("hydra.run.dir=outputs/resize_nearest,seed=1",), "'hydra.run.dir=\"outputs/resize_nearest,seed=1\"'"),
                       (("hydra.run.dir=a,b",), "a comma list is a sweep; add -m")]:
        out = run(tmp_path, *args)
        assert out.returncode == 2, args
        assert says in one_error_line(out), args
    assert list(tmp_path.iterdir()) == []


def test_continuing_keeps_the_first_record_and_raising_steps_continues(finished):
    (folder,) = (finished / "outputs").iterdir()
    record = (folder / ".hydra" / "overrides.yaml").read_bytes()
    first = (folder / "metrics.jsonl").read_text().splitlines()
    out = run(finished, "+debug=tiny", "train.steps=6")  # + or not: the same run
    assert out.returncode == 0, out.stderr[-2000:]
    assert [p.name for p in (finished / "outputs").iterdir()] == [folder.name]
    assert (folder / ".hydra" / "overrides.yaml").read_bytes() == record
    assert "debug=tiny train.steps=6" in (folder / ".hydra" / "history.txt").read_text()
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert lines[:len(first)] == first
    assert max(json.loads(line)["step"] for line in lines) == 6
    assert json.loads((folder / "status.json").read_text())["status"] == "finished"


def test_analyze_only_reads_and_compares_a_run_with_its_own_data(finished, monkeypatch, capsys):
    (folder,) = (finished / "outputs").iterdir()
    before = snapshot(folder)
    monkeypatch.chdir(finished)
    assert analyze.main([str(folder), "--num-samples", "32"]) == 0
    assert snapshot(folder) == before
    target = finished / "analysis" / folder.name
    assert f"writing to {Path('analysis') / folder.name}" in capsys.readouterr().out
    numbers = json.loads((target / "metrics.json").read_text())
    flat = json.dumps(numbers)
    assert "checkerboard_depth_excess/p2" in flat and "checkerboard_depth_real/p2" in flat


def test_ctrl_c_on_a_joblib_sweep_checkpoints_every_running_job_and_the_same_command_continues(tmp_path):
    """A real SIGINT to the sweep's process group while two joblib jobs run: both save a checkpoint
    and say ``interrupted``, the third job never starts, the sweep ends with one line and exit
    code 130; the same command (with fewer steps here) then finishes the sweep."""
    import os
    import signal
    import time

    sweep = tmp_path / "sweep"
    args = ["-m", "upsampler=transposed,resize_nearest,pixel_shuffle", "debug=tiny", "eval.every=20",
            "train.ckpt_every=100000", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([*TRAIN, *args, "train.steps=100000"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # both jobs training (past their first evaluation, at step 20)
        if len(list(sweep.glob("*/metrics.jsonl"))) == 2:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the two jobs did not start")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1 and "rerun `" in lines[0]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 2  # the third never started
    for job in jobs:
        status = json.loads((job / "status.json").read_text())
        assert status["status"] == "interrupted"
        assert any((job / "checkpoints").glob("*.pt"))
    stopped_at = {job.name: ckpt.load_latest(job / "checkpoints")[0]["step"] for job in jobs}
    target = max(stopped_at.values()) + 4  # every interrupted job trains on from its checkpoint
    out = subprocess.run([*TRAIN, *args, f"train.steps={target}"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    statuses = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/status.json")}
    assert len(statuses) == 3 and all(s["status"] == "finished" and s["step"] == target for s in statuses.values())
    for name, step in stopped_at.items():  # the interrupted jobs went on past where they stopped
        assert 0 < step < target
        steps = [r["step"] for r in RunDir(sweep / name).read_metrics()]
        assert steps == sorted(steps) and steps[-1] == target


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"]],
                         ids=["sequential", "joblib_one_at_a_time"])
def test_ctrl_c_on_a_sequential_sweep_starts_no_further_job(tmp_path, launcher):
    """Four jobs one after another (Hydra's basic launcher, or joblib with one worker): Ctrl-C while
    the first trains leaves it interrupted with a checkpoint, starts none of the other three, and
    ends the command with exit code 130 and the line that continues the sweep."""
    import os
    import signal
    import time

    sweep = tmp_path / "sweep"
    args = ["-m", "upsampler=transposed,resize_nearest,pixel_shuffle,resize_bilinear", "debug=tiny", "eval.every=20",
            "train.ckpt_every=100000", "train.steps=100000", *launcher, f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([*TRAIN, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 240
    while not list(sweep.glob("*/metrics.jsonl")):
        if time.time() > deadline:
            proc.kill()
            pytest.fail("the first job did not start")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 130, stderr[-3000:]
    assert sum(line.startswith("interrupted:") for line in stderr.splitlines()) == 1, stderr[-3000:]
    started = sorted(p.parent.name for p in sweep.glob("*/status.json"))
    assert len(started) == 1, started
    assert json.loads((sweep / started[0] / "status.json").read_text())["status"] == "interrupted"
