import json
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gan.measure import names as N
from gan.core.errors import UserError
from gan.model.build import build_generator
from gan.run.state import new_state
from gan.run.training import train, train_step
from tests.conftest import ROOT, TINY, cli

TRAIN_TAGS = {"train/loss_D", "train/loss_G", "train/D_real", "train/D_fake"}


def read_events(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def check_run_dir(run_dir: Path, steps: int) -> None:
    acc = read_events(run_dir)
    tags = acc.Tags()
    assert TRAIN_TAGS <= set(tags["scalars"])
    assert {N.HEADLINE, N.P2_HEADLINE, N.PHASE_HEADLINE, "checkerboard_depth/p2", "spectral/distance"} <= set(tags["scalars"])
    assert "checkerboard/p2" not in tags["scalars"]  # the superseded dB detectors only with eval.detail
    assert "samples" in tags["images"]
    assert "spectrum/radial_profile" in tags["images"]
    assert any(t.startswith("config") for t in tags["tensors"])  # the resolved config as text
    assert "_hparams_/session_start_info" in acc.summary_metadata  # HParams in the run's own dir
    assert [e.step for e in acc.Scalars("train/loss_D")] == list(range(1, steps + 1))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 2, 4]
    assert 0 <= records[-1][N.HEADLINE] <= 1
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
    assert {"train/loss_D", "train/loss_G", N.HEADLINE, "spectral/distance"} <= set(final)
    check_run_dir(Path(cfg.run_dir), 4)


@pytest.mark.parametrize("upsampler,loss", [("pixel_shuffle_icnr_zoh", "hinge"), ("resize_bilinear", "bce")])
def test_train_other_upsamplers_and_losses(tiny_cfg, upsampler, loss):
    """The run trains the chosen upsampler with the chosen loss: its checkpoint loads strictly into a
    generator built from that preset (and not into the default's), the recorded config says so,
    and the last logged losses are finite."""
    from omegaconf import OmegaConf


    cfg = tiny_cfg(f"upsampler={upsampler}", f"train.loss={loss}", "train.steps=2", "eval.figures=false")
    final = train(cfg)
    assert final["step"] == 2
    run = Path(cfg.run_dir)
    saved = OmegaConf.load(run / "config.yaml")
    assert saved.train.loss == loss and saved.upsampler == cfg.upsampler
    weights = {k.removeprefix("_orig_mod."): v[0] if v.ndim and v.shape[0] == 1 else v
               for k, v in torch.load(run / "checkpoints" / "last.pt", weights_only=True)["G"].items()}
    G = build_generator(cfg, 3)
    assert set(weights) == set(G.state_dict())
    default = build_generator(tiny_cfg("train.steps=2"), 3)
    assert set(weights) != set(default.state_dict()) or any(
        weights[k].shape != v.shape for k, v in default.state_dict().items())
    assert torch.isfinite(torch.tensor([final["train/loss_G"], final["train/loss_D"]])).all()


def test_cli_train_writes_the_same_run_dir(tmp_path):
    run_dir = tmp_path / "cli_run"
    out = cli(ROOT, *TINY, f"hydra.run.dir={run_dir}")
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


def test_run_directory_is_named_from_the_overrides_and_a_rerun_continues_it(tmp_path):
    cmd = ["+debug=tiny", "upsampler=resize_nearest", "seed=3"]
    first = cli(tmp_path, *cmd)
    assert first.returncode == 0, first.stderr[-3000:]
    (run,) = (tmp_path / "outputs").iterdir()
    assert run.name == "resize_nearest,debug=tiny,seed=3"  # the upsampler first, then what was set
    assert f"finished outputs/{run.name} at step 4" in first.stdout  # the closing summary ...
    assert f"tensorboard --logdir outputs/{run.name}" in first.stdout and N.HEADLINE in first.stdout
    records = (run / "metrics.jsonl").read_text()
    again = cli(tmp_path, *cmd)
    assert again.returncode == 0 and "at step 4 (before)" in again.stdout  # found, nothing retrained
    assert (run / "metrics.jsonl").read_text() == records
    assert list((tmp_path / "outputs").iterdir()) == [run]
    other = cli(tmp_path, "debug=tiny", "generator.ngf=8", "train.steps=1", "eval.every=1")
    # dotted keys shortened to their last part; train.steps and eval.* do not name a run
    assert other.returncode == 0 and (tmp_path / "outputs" / "transposed,debug=tiny,ngf=8").is_dir()


def test_resume_false_never_mixes_two_runs_in_one_record(tiny_cfg):
    cfg = tiny_cfg("train.steps=2", "eval.figures=false")
    train(cfg)
    cfg.train.resume = False
    with pytest.raises(UserError, match="already holds a run"):
        train(cfg)


def test_final_numbers_at_the_final_step(tiny_cfg):
    cfg = tiny_cfg()
    train(cfg)
    acc = read_events(Path(cfg.run_dir))
    finals = [t for t in acc.Tags()["scalars"] if t.startswith("final/")]
    assert f"final/{N.HEADLINE}" in finals and f"final/{N.PHASE_HEADLINE}" in finals
    assert all([e.step for e in acc.Scalars(t)] == [4] for t in finals)


def test_ema_follows_the_generator_by_its_decay(tiny_cfg):
    cfg = tiny_cfg("train.ema=0.9", "num_seeds=2")
    state = new_state(cfg, 3, torch.device("cpu"))
    before = {k: v.clone() for k, v in state.G.params.items()}
    torch.testing.assert_close(state.G_ema.state_dict(), state.G.state_dict())  # starts at G
    train_step(state, torch.rand(2, 8, 3, 16, 16) * 2 - 1, "bce")
    for name, p in state.G.params.items():  # ema = 0.9 ema + 0.1 G after one step
        torch.testing.assert_close(state.G_ema.params[name], 0.9 * before[name] + 0.1 * p.detach())
    assert not any(p.requires_grad for p in state.G_ema.parameters())
