"""``train(cfg) -> dict``: the DCGAN training loop, free of Hydra decorators so tests call it directly.

Read top to bottom: one training step, one evaluation, the loop, and ``train``, which sets a run
up, runs the loop and records how it ended. Losses (``gan.losses``), the state and its
checkpoints (``gan.state``), device and precision (``gan.runtime``), stop signals
(``gan.signals``) and the run directory (``gan.rundir``) live in their own modules.
"""
from __future__ import annotations

import logging
import os
import shlex
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from gan import checkpoint as ckpt
from gan import dashboard
from gan import metrics as M
from gan.build import build_dataset
from gan.config import COMMAND_ENV
from gan.data import batches, describe
from gan.errors import TrainingDiverged, TrainingInterrupted, UserError
from gan.evaluation import Evaluation, Evaluator
from gan.logging import RunLogger
from gan.losses import d_loss, g_loss
from gan.networks import sample
from gan.plots import radial_profiles_figure, spectra_figure
from gan.rundir import RunDir, run_dir_of
from gan.runtime import autocast, memory_format, resolve_device, seed_everything, set_threads
from gan.signals import act_on_signals, deferred_signals
from gan.state import State, new_state, save_checkpoint
from gan.validate import validate

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# One step, one evaluation


def train_step(state: State, real: torch.Tensor, loss: str, amp: str = "none") -> dict[str, torch.Tensor]:
    """One D update then one G update on the same fake batch ``real`` ``(B, C, S, S)``; returns
    detached statistics. ``amp``: mixed precision (none | bf16 | fp16, fp16 with ``state.scaler``)."""
    G, D, scaler = state.G, state.D, state.scaler
    with autocast(real.device, amp):
        z = torch.randn(real.shape[0], G.z_dim, device=real.device)
        fake = G(z)  # (B, C, S, S)
        real_logits, fake_logits = D(real).float(), D(fake.detach()).float()  # losses in fp32
        loss_d = d_loss(loss, real_logits, fake_logits)
    state.opt_d.zero_grad(set_to_none=True)
    scaler.scale(loss_d).backward()
    scaler.step(state.opt_d)

    with autocast(real.device, amp):
        loss_g = g_loss(loss, D(fake).float())
    state.opt_g.zero_grad(set_to_none=True)
    scaler.scale(loss_g).backward()
    scaler.step(state.opt_g)
    scaler.update()
    return {"train/loss_D": loss_d.detach(), "train/loss_G": loss_g.detach(),
            "train/D_real": torch.sigmoid(real_logits.detach()).mean(), "train/D_fake": torch.sigmoid(fake_logits.detach()).mean()}


def log_figures(logger: RunLogger, step: int, evaluation: Evaluation) -> None:
    """The radial profiles and mean log-spectra of generated vs real images, as TensorBoard figures."""
    fake, real = evaluation.fake, evaluation.real
    freqs, profile = fake.radial
    logger.figure(step, "spectrum/radial_profile", radial_profiles_figure(
        freqs, {"generated": profile, "real": real.radial[1]}, title=f"step {step}"))
    logger.figure(step, "spectrum/mean_log_spectrum", spectra_figure(
        {"generated": fake.log_spectrum, "real": real.log_spectrum}, title=f"step {step}",
        ratio_of=("generated", "real")))


def evaluate(state: State, evaluator: Evaluator, logger: RunLogger, cfg: DictConfig) -> dict[str, Any]:
    """Sample the fixed noise, log the sample grid, every metric and (``eval.figures``) the figures."""
    fake = sample(state.G, state.fixed_z)
    logger.images(state.step, "samples", fake[: cfg.eval.grid_size], save=True)
    evaluation = evaluator(fake)
    values = evaluation.metrics | M.layer_checkerboard(state.G)
    if cfg.eval.figures and fake.shape[-1] == fake.shape[-2]:
        log_figures(logger, state.step, evaluation)
    logger.metrics(state.step, values)
    logger.flush()
    return values


def finite_model(state: State) -> bool:
    """No NaN/Inf in any weight (one host sync)."""
    return bool(torch.stack([torch.isfinite(p).all() for net in (state.G, state.D) for p in net.parameters()]).all())


# ---------------------------------------------------------------------------------------------
# The loop


def run_loop(cfg: DictConfig, state: State, dataset, evaluator: Evaluator, logger: RunLogger, run: RunDir,
             device: torch.device) -> dict[str, Any]:
    """Steps ``state.step .. train.steps`` with logging, evaluation, checkpoints and stop signals."""
    steps = int(cfg.train.steps)
    data = batches(dataset, cfg.train.batch_size, seed=cfg.seed, start_step=state.step,
                   num_workers=cfg.train.num_workers)
    batch_format = memory_format(cfg.train.channels_last)
    metrics: dict[str, Any] = {}
    if state.step == 0:
        metrics = evaluate(state, evaluator, logger, cfg)
    bar = tqdm(total=steps, initial=state.step, desc=f"train {run.name}", disable=not cfg.train.progress,
               dynamic_ncols=True)
    stats: dict[str, torch.Tensor] = {}
    finite = torch.ones((), dtype=torch.bool, device=device)  # checked on the host only at log/ckpt steps
    heartbeat = Heartbeat(run)
    with deferred_signals() as signals:
        try:
            while state.step < steps:
                real = next(data).to(device, non_blocking=True, memory_format=batch_format)
                stats = train_step(state, real, cfg.train.loss, cfg.train.amp)
                finite &= torch.isfinite(stats["train/loss_D"]) & torch.isfinite(stats["train/loss_G"])
                state.step += 1
                bar.update(1)
                log_now = state.step % cfg.train.log_every == 0 or state.step == steps
                eval_now = state.step % cfg.eval.every == 0 or state.step == steps
                ckpt_now = state.step % cfg.train.ckpt_every == 0 or state.step == steps or signals.received
                if (log_now or eval_now or ckpt_now) and not (bool(finite) and finite_model(state)):
                    logger.metrics(state.step, {"diverged": True})
                    raise TrainingDiverged(f"NaN/Inf in a loss or weight by step {state.step}; "
                                           f"the last good checkpoint in {run.checkpoint_dir} is kept")
                if log_now:
                    values = dict(zip(stats, torch.stack(list(stats.values())).tolist()))  # one sync
                    logger.scalars(state.step, values)
                    bar.set_postfix({k[11:]: f"{v:.3f}" for k, v in values.items() if k.startswith("train/loss_")})
                    heartbeat.beat(state.step)
                if eval_now:
                    metrics = evaluate(state, evaluator, logger, cfg)
                if ckpt_now:
                    save_checkpoint(state, run.checkpoint_dir, periodic=state.step % cfg.train.ckpt_every == 0)
                if signals.received:
                    logger.flush()
                    act_on_signals(signals, state.step, run.write_status, resume_hint(run))
        finally:
            bar.close()
    if not metrics:  # resumed at the last step: no step ran; its evaluation is on record (or made now)
        metrics = next((r for r in reversed(run.read_metrics()) if r.get("step") == state.step and M.HEADLINE in r),
                       None) or evaluate(state, evaluator, logger, cfg)
        metrics = {k: v for k, v in metrics.items() if k != "step"}
    return {"step": state.step, **{k: float(v) for k, v in stats.items()}, **metrics}


# ---------------------------------------------------------------------------------------------
# A run


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train a DCGAN as ``cfg`` says; write the run directory; return the final metrics.

    The run directory is locked for this process (``RunDir.lock``). Raises ``TrainingDiverged``
    (NaN/Inf) and ``TrainingInterrupted`` (SIGTERM/SIGINT), after recording the outcome in
    ``status.json`` (and, for divergence, in ``metrics.jsonl``). A run that already reached
    ``train.steps`` returns its final metrics without training.
    """
    validate(cfg)
    run = run_dir_of(cfg)
    took_lock = run.lock()  # one writer per run directory; RunDirInUse (exit 2) if another process has it
    try:
        return train_in(run, cfg)
    finally:
        if took_lock:
            run.unlock()


def train_in(run: RunDir, cfg: DictConfig) -> dict[str, Any]:
    """Set up (data, networks, the checkpoint to continue from), run the loop, record how it ended."""
    started = time.time()
    try:
        seed_everything(cfg.seed, cfg.deterministic)
        set_threads(cfg.threads)
        device = resolve_device(cfg.device)
        dataset = build_dataset(cfg)
        channels = int(dataset[0].shape[0])
        log.info("device %s, %d CPU threads; data: %s", device, torch.get_num_threads(), describe(dataset))
        state = new_state(cfg, channels, device)
        resumed = resume_point(run, cfg, device)
        if resumed is not None:
            state.load_state_dict(resumed[0])
            log.info("resumed from %s at step %d", resumed[1], state.step)
            if state.step >= cfg.train.steps and run.read_status().get("status") == "finished":
                return already_finished(run, cfg, state.step)
        run.write_status("running", step=state.step, heartbeat=time.time())
        logger = RunLogger(run, resume_step=state.step if resumed else None)
        if resumed is None:
            logger.text("config", f"```\n{OmegaConf.to_yaml(cfg)}\n```")
            logger.layout(dashboard.layout(M.periods_for(cfg.image_size)))
        run.save_config(cfg)  # what gan.analyze rebuilds the model from
        evaluator = Evaluator(dataset, cfg, device)
        final = run_loop(cfg, state, dataset, evaluator, logger, run, device)
    except TrainingDiverged as e:
        run.write_status("diverged", error=str(e))
        raise
    except TrainingInterrupted as e:
        run.write_status("interrupted", error=str(e))
        raise
    except SystemExit:  # a host's signal handler ended the process; act_on_signals wrote the status
        raise
    except BaseException as e:
        run.write_status("failed", error=f"{type(e).__name__}: {e}")
        raise
    logger.hparams(dashboard.hparams(cfg), {k: final[k] for k in dashboard.HEADLINE_METRICS if k in final},
                   step=final["step"])
    logger.close()
    run.write_status("finished", step=final["step"])
    closing_summary(run, final, time.time() - started)
    return final


def resume_point(run: RunDir, cfg: DictConfig, device: torch.device) -> tuple[dict[str, Any], Path] | None:
    """The newest readable checkpoint to continue from (``train.resume``), or None for a fresh start.
    Without resuming, a directory that already holds a run is refused: two runs in one record."""
    if not cfg.train.resume:
        if run.metrics_file.exists() or ckpt.candidates(run.checkpoint_dir):
            raise UserError(f"{run.path} already holds a run; train.resume=false would mix two runs in one "
                            f"record: give this run another directory (hydra.run.dir=...) or delete that one")
        return None
    return ckpt.load_latest(run.checkpoint_dir, map_location=device, warn=log.warning)


def already_finished(run: RunDir, cfg: DictConfig, step: int) -> dict[str, Any]:
    """The final metrics of a run that reached ``train.steps`` before (from ``metrics.jsonl``)."""
    last = next((r for r in reversed(run.read_metrics()) if r.get("step") == step and M.HEADLINE in r), {})
    final = {"step": step, **{k: v for k, v in last.items() if k != "step"}}
    log.info("%s already finished at step %d (raise train.steps to train on)", run.path, step)
    closing_summary(run, final, None)
    return final


def closing_summary(run: RunDir, final: dict[str, Any], seconds: float | None) -> None:
    """Where the run went, what it ended at, and how to look at it."""
    took = f" in {seconds / 60:.1f} min" if seconds is not None else " (before)"
    numbers = "  ".join(f"{k} {final[k]:.4g}" for k in dashboard.HEADLINE_METRICS
                        if isinstance(final.get(k), (int, float)))
    shown = shlex.quote(os.path.relpath(run.path) if run.path.resolve().is_relative_to(Path.cwd()) else str(run.path))
    text = f"finished {shown} at step {final['step']}{took}\n  {numbers}\n  tensorboard --logdir {shown}"
    log.info("%s", text.replace("\n ", ";"))
    print(text, flush=True)


def resume_hint(run: RunDir) -> str:
    """What continues this run: the command that started it (``$GAN_COMMAND``, set by train.py)."""
    command = os.environ.get(COMMAND_ENV)
    if command:
        return f"rerun `{command}` to resume it from there"
    return f"rerun the same command (hydra.run.dir={run.path}) to resume it from there"


class Heartbeat:
    """Refreshes ``status.json`` (time and step) at most every ``every`` seconds, so a sweep's
    summary can tell a live run from one whose process died (``gan.summarize``: stale)."""

    def __init__(self, run: RunDir, every: float = 10.0):
        self.run, self.every, self.last = run, every, time.time()

    def beat(self, step: int) -> None:
        now = time.time()
        if now - self.last >= self.every:
            self.run.write_status("running", step=step, heartbeat=now)
            self.last = now
