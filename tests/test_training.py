import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gan.training import train

ROOT = Path(__file__).resolve().parent.parent
TRAIN_TAGS = {"loss/D", "loss/G", "D/real", "D/fake"}


def read_events(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def check_run_dir(run_dir: Path, steps: int) -> None:
    acc = read_events(run_dir)
    tags = acc.Tags()
    assert TRAIN_TAGS <= set(tags["scalars"])
    assert {"checkerboard/p2", "checkerboard_excess_db/p2", "checkerboard_fixed/p2", "spectral/distance"} <= set(tags["scalars"])
    assert "samples" in tags["images"]
    assert "spectrum/radial_profile" in tags["images"]
    assert any(t.startswith("config") for t in tags["tensors"])  # the resolved config as text
    assert "_hparams_/session_start_info" in acc.summary_metadata  # HParams in the run's own dir
    assert [e.step for e in acc.Scalars("loss/D")] == list(range(1, steps + 1))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 2, 4]
    assert 0 <= records[-1]["checkerboard/p2"] <= 1
    assert "dc_checkerboard/stage0" in records[-1]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == steps and {"G", "D", "opt_g", "opt_d", "rng", "fixed_z"} <= set(ckpt)
    assert (run_dir / "checkpoints" / "step_0000002.pt").is_file()
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == [
        "step_0000000.png", "step_0000002.png", "step_0000004.png"]


def test_train_end_to_end(tiny_cfg, tmp_path):
    cfg = tiny_cfg()
    final = train(cfg)
    assert final["step"] == 4
    assert {"loss/D", "loss/G", "checkerboard/p2", "spectral/distance"} <= set(final)
    check_run_dir(Path(cfg.run_dir), 4)


@pytest.mark.parametrize("upsampler,loss", [("pixel_shuffle_icnr_zoh", "hinge"), ("resize_bilinear", "bce")])
def test_train_other_upsamplers_and_losses(tiny_cfg, upsampler, loss):
    final = train(tiny_cfg(f"upsampler={upsampler}", f"train.loss={loss}", "train.steps=2", "eval.figures=false"))
    assert final["step"] == 2 and torch.isfinite(torch.tensor(final["loss/G"]))


def test_cli_train_writes_the_same_run_dir(tmp_path):
    from tests.conftest import TINY
    run_dir = tmp_path / "cli_run"
    cmd = [sys.executable, "train.py", *TINY, f"hydra.run.dir={run_dir}"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    check_run_dir(run_dir, 4)
    assert (run_dir / ".hydra" / "config.yaml").is_file()


def test_rerun_resumes_instead_of_starting_over(tiny_cfg):
    cfg = tiny_cfg()
    train(cfg)
    cfg.train.steps = 6
    final = train(cfg)
    assert final["step"] == 6
    records = [json.loads(x) for x in (Path(cfg.run_dir) / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 2, 4, 6]
