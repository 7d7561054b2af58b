"""Interruption, divergence and corrupt checkpoints lose no finished work."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gan import summarize
from gan.core.errors import TrainingDiverged, TrainingInterrupted
from gan.run import checkpoint as ckpt
from gan.run import signals
from gan.run import training
from gan.run.rundir import STALE_AFTER_S, RunDir, RunDirInUse, Status
from gan.run.training import train
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
LONG = [*TINY, "train.steps=100", "train.ckpt_every=5", "eval.every=25", "eval.figures=false", "deterministic=true"]


def start(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "train.py", *LONG, f"hydra.run.dir={run_dir}", *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()[-2000:]}"
        assert time.time() - t0 < timeout, f"{path} did not appear"
        time.sleep(0.05)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["G"]


def run_to_the_end(run_dir: Path) -> None:
    """The LONG run in ``run_dir``, uninterrupted (or resumed there), in a subprocess."""
    out = subprocess.run([sys.executable, "train.py", *LONG, f"hydra.run.dir={run_dir}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    run_to_the_end(tmp_path / "ref")

    run = tmp_path / "killed"
    proc = start(run)
    wait_for(run / "checkpoints" / "step_0000015.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"]
    # last.pt is refreshed just after step_0000015.pt: a kill in between leaves it at step 10
    assert 10 <= killed_at < 100, f"killed at step {killed_at}: the run was not stopped midway"
    run_to_the_end(run)
    a, b = weights(tmp_path / "ref"), weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [0, 25, 50, 75, 100]  # no duplicated or missing evaluations after the resume


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGUSR2, marks=pytest.mark.slow)])  # USR2: SLURM's warning
def test_stop_signal_saves_and_exits_cleanly(tmp_path, sig):
    run = tmp_path / "run"
    proc = start(run, "train.steps=100000")
    wait_for(run / "checkpoints" / "step_0000010.pt", proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig
    assert sig.name in err and "Traceback" not in err
    status = RunDir(run).read_status()
    assert status["status"] == "interrupted"
    saved = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert saved >= 10  # the step it stopped at, not only the last periodic one


def test_host_signal_handler_gets_the_signal_after_a_checkpoint(tiny_cfg, monkeypatch):
    # a host process (submitit ignores SIGTERM and requeues on USR2) installed its own handler
    cfg = tiny_cfg("train.steps=6", "train.ckpt_every=100", "eval.every=100", "eval.figures=false")
    last = Path(cfg.run_dir) / "checkpoints" / "last.pt"
    calls = []

    def host(signum, frame):  # like submitit's bypass: note it, go on
        calls.append((signum, torch.load(last, weights_only=True)["step"], RunDir(cfg.run_dir).read_status()["status"]))
    real_step = training.train_step

    def step_then_signal(state, *args):
        stats = real_step(state, *args)
        if state.step == 2:  # the third step, as the counter is incremented after the step
            os.kill(os.getpid(), signal.SIGTERM)
        return stats
    monkeypatch.setattr(training, "train_step", step_then_signal)
    previous = signal.signal(signal.SIGTERM, host)
    try:
        assert train(cfg)["step"] == 6
        assert signal.getsignal(signal.SIGTERM) is host  # restored after training
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert calls == [(signal.SIGTERM, 3, "interrupted")]  # step 3 saved before the host handler ran
    assert RunDir(cfg.run_dir).read_status()["status"] == "finished"


def test_a_stop_that_comes_while_a_sweep_job_is_set_up_stops_it_at_its_first_boundary(tiny_cfg, monkeypatch):
    """Ctrl-C on a sweep whose job trains in this process (basic launcher, joblib with one worker),
    after the job's records are open but before its loop defers signals: the sweep's handler
    records the stop, and the job stops at its first step boundary with a checkpoint instead of
    training to the end."""
    cfg = tiny_cfg("train.steps=1000", "train.ckpt_every=1000", "eval.every=1000", "eval.figures=false")
    real_loop = training.run_loop

    def signal_then_loop(*args, **kwargs):  # the records are open, the loop's handlers not yet in place
        os.kill(os.getpid(), signal.SIGINT)
        return real_loop(*args, **kwargs)

    monkeypatch.setattr(training, "run_loop", signal_then_loop)
    with signals.sweep_stop() as stop, pytest.raises(TrainingInterrupted):
        train(cfg)
    assert stop.signum == signal.SIGINT
    assert RunDir(cfg.run_dir).read_status()["status"] == "interrupted"
    assert torch.load(Path(cfg.run_dir) / "checkpoints" / "last.pt", weights_only=True)["step"] == 1


@pytest.mark.slow  # a full submitit round trip, about a minute; the stop-signal tests cover the checkpoint
def test_submitit_preemption_requeues_and_resumes(tmp_path):
    """SIGUSR2 (submitit's preemption signal) -> checkpoint -> submitit requeues -> the job resumes."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "train.py", "-m", *LONG, "train.steps=400", "train.ckpt_every=50",
                             "eval.every=100", "hydra/launcher=submitit_local",
                             f"hydra.sweep.dir={sweep}"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not list(sweep.glob("*/checkpoints/step_0000050.pt")):
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.time() - t0 < 300, "the job did not start"
        time.sleep(0.05)
    job = next(p for p in sweep.iterdir() if (p / "checkpoints").is_dir())
    os.kill(RunDir(job).read_status()["pid"], signal.SIGUSR2)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    status = RunDir(job).read_status()
    assert {"pid", "host"} <= set(status) and status.get("converged") in (True, False, None)
    assert {k: v for k, v in status.items() if k not in ("pid", "host", "converged")} == {"status": "finished", "step": 400}
    log = (job / "train.log").read_text()
    stopped = re.search(r"SIGUSR2 at step (\d+): checkpoint saved", log)
    resumed = re.search(r"resumed from .*last\.pt at step (\d+)", log)
    assert stopped and resumed and stopped[1] == resumed[1], log[-3000:]  # no step lost or redone
    steps = [json.loads(x)["step"] for x in (job / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(0, 401, 100))  # evaluations continue without gaps or repeats


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(tiny_cfg, monkeypatch):
    cfg = tiny_cfg("train.steps=6", "train.ckpt_every=2", "eval.every=100", "train.log_every=100",
                   "eval.figures=false")
    train(cfg)  # 6 good steps
    cfg.train.steps = 12
    real_step = training.train_step

    def poisoned_step(state, *args):  # a NaN appears in a weight after step 7
        stats = real_step(state, *args)
        if state.step == 7:
            with torch.no_grad():
                next(state.G.parameters()).view(-1)[0] = float("nan")
        return stats
    monkeypatch.setattr(training, "train_step", poisoned_step)
    with pytest.raises(TrainingDiverged, match="NaN/Inf"):
        train(cfg)
    run = Path(cfg.run_dir)
    assert RunDir(run).read_status()["status"] == "diverged"
    last = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][-1]
    assert last["diverged"] is True
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 6  # the checkpoint due at step 8 was not written from a NaN state
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())


def test_cli_divergence_exit_code(tmp_path):
    out = subprocess.run([sys.executable, "train.py", *TINY, "train.lr_g=1e38", "eval.figures=false",
                          f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 3 and "NaN/Inf" in out.stderr and "Traceback" not in out.stderr


def test_truncated_checkpoint_falls_back_to_previous(tiny_cfg, caplog):
    cfg = tiny_cfg("train.steps=4", "train.ckpt_every=2", "eval.figures=false")
    train(cfg)
    last = Path(cfg.run_dir) / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])  # a save cut short (e.g. disk full, not our atomic write)
    with pytest.raises(ckpt.CheckpointError, match="unreadable"):
        ckpt.load(last)
    state, path = ckpt.load_latest(last.parent, warn=lambda m: None)
    assert path.name == "step_0000004.pt" and state["step"] == 4
    cfg.train.steps = 6
    assert train(cfg)["step"] == 6
    assert "unreadable" in caplog.text


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "c.pt"
    ckpt.save_atomic({"x": torch.ones(2)}, target)

    def fail(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError):
        ckpt.save_atomic({"x": torch.zeros(2)}, target)
    assert torch.equal(ckpt.load(target)["x"], torch.ones(2))  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary left behind


def test_checkpoints_refuse_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load(tmp_path / "evil.pt")


def snapshot(run: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``run``."""
    return {str(p.relative_to(run)): (p.stat().st_size, p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file()}


def test_second_writer_is_refused_and_touches_nothing(tmp_path):
    run_to_the_end(tmp_path / "alone")
    run = tmp_path / "shared"
    first = start(run)
    wait_for(run / "checkpoints" / "step_0000010.pt", first)
    first.send_signal(signal.SIGSTOP)  # hold the first still while the second one tries
    try:
        before = snapshot(run)
        second = subprocess.run([sys.executable, "train.py", *LONG, f"hydra.run.dir={run}"], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        after = snapshot(run)
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "in use" in lines[0], second.stderr
    assert after == before  # not one file written, not even Hydra's .hydra/ or the log
    assert first.wait(timeout=600) == 0
    a, b = weights(tmp_path / "alone"), weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the first run's record is what it would be alone
    assert (run / "metrics.jsonl").read_text() == (tmp_path / "alone" / "metrics.jsonl").read_text()


def test_lock_is_reentrant_in_one_process_and_released(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.lock() is True and run.lock() is False  # this process already holds it
    holder = json.loads(run.lock_file.read_text())
    assert holder["pid"] == os.getpid()
    probe = ("import sys; from gan.run.rundir import RunDir, RunDirInUse\n"
             "try:\n    RunDir(sys.argv[1]).lock()\nexcept RunDirInUse as e:\n    print(e); sys.exit(2)\n")
    other = subprocess.run([sys.executable, "-c", probe, str(run.path)], cwd=ROOT, capture_output=True, text=True)
    assert other.returncode == 2 and f"pid {os.getpid()}" in other.stdout
    run.unlock()
    other = subprocess.run([sys.executable, "-c", probe, str(run.path)], cwd=ROOT, capture_output=True, text=True)
    assert other.returncode == 0, other.stdout  # free again
    assert run.lock() is True  # the subprocess that took it has exited: the OS dropped its lock
    run.unlock()
    assert RunDirInUse.__mro__[1].__name__ == "UserError"  # exit code 2 from train.py


def stop_with_sigint(cmd: list[str], marker: Path) -> str:
    """Start ``cmd``, send SIGINT once ``marker`` exists, return the command its stop message prints."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGINT, err[-2000:]
    printed = re.search(r"rerun `(.+?)` to resume", err)
    assert printed, err[-2000:]
    return printed[1]


def rerun(printed: str) -> None:
    args = shlex.split(printed)
    assert args[0] == "python"
    out = subprocess.run([sys.executable, *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]


def test_sigint_then_the_printed_command_resumes_the_run(tmp_path):
    run_to_the_end(tmp_path / "ref")
    run = tmp_path / "stopped"
    printed = stop_with_sigint([sys.executable, "train.py", *LONG, f"hydra.run.dir={run}"],
                               run / "checkpoints" / "step_0000020.pt")
    assert RunDir(run).read_status()["status"] == "interrupted"
    rerun(printed)
    a, b = weights(tmp_path / "ref"), weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (run / "metrics.jsonl").read_text() == (tmp_path / "ref" / "metrics.jsonl").read_text()


def test_sigint_then_the_printed_command_resumes_the_sweep(tmp_path):
    sweep = [sys.executable, "train.py", "-m", *LONG, "train.steps=60", "seed=0,1"]
    ref = subprocess.run([*sweep, f"hydra.sweep.dir={tmp_path / 'ref'}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]
    stopped = tmp_path / "stopped"
    printed = stop_with_sigint([*sweep, f"hydra.sweep.dir={stopped}"],
                               stopped / "1_seed=1" / "checkpoints" / "step_0000010.pt")  # in the second job
    assert "-m" in shlex.split(printed)
    rerun(printed)
    for job in ("0_seed=0", "1_seed=1"):
        a, b = weights(tmp_path / "ref" / job), weights(stopped / job)
        assert all(torch.equal(a[k], b[k]) for k in a), job
        assert RunDir(stopped / job).read_status()["status"] == "finished"


def test_a_killed_job_shows_as_stale(tmp_path, capsys):
    run = tmp_path / "sweep" / "0_job"
    proc = start(run, "train.steps=100000")
    wait_for(run / "checkpoints" / "step_0000005.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert RunDir(run).read_status()["status"] == "running"  # what it last said
    assert str(RunDir(run).liveness()) == f"stale (pid {proc.pid} is gone)"
    assert summarize.main([str(tmp_path / "sweep")]) == 0
    assert "stale" in capsys.readouterr().out


def test_a_running_run_whose_heartbeat_stopped_reads_stale_and_a_fresh_one_running(tmp_path):
    """The staleness rule: a live process whose heartbeat is older than ``STALE_AFTER_S`` is stale;
    one just inside it, or beating now, is running; a finished run never reads stale."""
    run = RunDir(tmp_path)
    now = time.time()
    for age, expected in ((STALE_AFTER_S + 60, Status.STALE), (STALE_AFTER_S - 60, Status.RUNNING), (0, Status.RUNNING)):
        run.write_status(Status.RUNNING, step=5, heartbeat=now - age)
        assert json.loads(run.status_file.read_text())["pid"] == os.getpid()  # this process: alive
        assert run.liveness().status == expected, age
    assert "no heartbeat for" in run.liveness(stale_after=-1).detail
    run.write_status(Status.FINISHED, step=5, heartbeat=now - 10 * STALE_AFTER_S)
    assert run.liveness().status == Status.FINISHED
