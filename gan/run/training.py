"""``train(cfg) -> dict``: the DCGAN training loop, free of Hydra decorators so tests call it directly.

Read top to bottom: one training step, one evaluation, the loop, and ``train``, which sets a job
up, runs the loop and records how it ended. A job trains ``num_seeds`` replicas at once (seeds
``seed .. seed + num_seeds - 1``); each writes an ordinary run directory (the job directory itself
when there is one). Losses (``gan.model.losses``), the replicated networks (``gan.model.replicas``), the state
and its checkpoints (``gan.run.state``), device and precision (``gan.core.runtime``), stop signals
(``gan.run.signals``) and the run directory (``gan.run.rundir``) live in their own modules.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import torch
from omegaconf import DictConfig

from gan.core.errors import TrainingDiverged
from gan.core.runtime import autocast, memory_format, resolve_device, seed_everything, set_threads
from gan.data.loading import batches, describe
from gan.measure import names as N
from gan.measure.evaluation import Evaluator
from gan.model.build import build_dataset
from gan.model.losses import d_loss, g_loss
from gan.model.networks import sample
from gan.run import lifecycle
from gan.run.lifecycle import Replica
from gan.run.rundir import RunDir
from gan.run.signals import act_on_signals, deferred_signals
from gan.run.state import State, detector_noise, new_state, save_checkpoint, seeds_of

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# One step


def train_step(state: State, real: torch.Tensor, loss: str, amp: str = "none") -> dict[str, torch.Tensor]:
    """One D update then one G update on the same fake batch, for every replica at once.
    ``real``: ``(K, B, C, S, S)``. Returns detached statistics ``(K,)``. ``amp``: mixed precision
    (none | bf16 | fp16, fp16 with ``state.scaler``)."""
    G, D, scaler = state.G, state.D, state.scaler
    batch, z_dim = real.shape[1], state.fixed_z.shape[-1]
    with autocast(real.device, amp):
        z = torch.stack([torch.randn(batch, z_dim, generator=g, device=real.device) for g in state.noise])
        fake = G(z)  # (K, B, C, S, S)
        real_logits, fake_logits = D(real).float(), D(fake.detach()).float()  # (K, B); losses in fp32
        loss_d = d_loss(loss, real_logits, fake_logits)  # (K,)
    state.opt_d.zero_grad(set_to_none=True)
    scaler.scale(loss_d.sum()).backward()  # the sum: each replica's gradient is its own loss's
    scaler.step(state.opt_d)

    with autocast(real.device, amp):
        loss_g = g_loss(loss, D(fake).float())
    state.opt_g.zero_grad(set_to_none=True)
    scaler.scale(loss_g.sum()).backward()
    scaler.step(state.opt_g)
    scaler.update()
    if state.G_ema is not None:
        state.G_ema.follow(G, state.ema_decay)
    return {N.LOSS_D: loss_d.detach(), N.LOSS_G: loss_g.detach(),
            N.D_REAL: torch.sigmoid(real_logits.detach()).mean(dim=-1),
            N.D_FAKE: torch.sigmoid(fake_logits.detach()).mean(dim=-1)}


# ---------------------------------------------------------------------------------------------
# One evaluation


def evaluate(state: State, evaluator: Evaluator, replicas: list[Replica], cfg: DictConfig) -> None:
    """Sample every replica's fixed noise; log its sample grid, every metric, the depths of every
    generator stage and (``eval.figures``) the figures into its own run directory; the same numbers
    for the weight average (``train.ema``) under ``ema/``."""
    generators = {"": state.G, **({N.EMA_PREFIX: state.G_ema} if state.G_ema is not None else {})}
    stages = {prefix: sample(G, state.fixed_z, stages=True) if cfg.eval.stages else [sample(G, state.fixed_z)]
              for prefix, G in generators.items()}
    final = cfg.eval.detectors and state.step == cfg.train.steps  # the detectors read the last evaluation
    noise = detector_noise(state.seeds, cfg.eval.detector_images, state.fixed_z.shape[-1]).to(state.fixed_z) \
        if final else None
    detector_images = {prefix: sample(G, noise) for prefix, G in generators.items()} if final else {}
    for r in replicas:
        if state.diverged[r.index]:
            continue
        r.last = {}
        for prefix, outputs in stages.items():
            fake = outputs[-1][r.index]
            r.logger.images(state.step, f"{prefix}samples", fake[: cfg.eval.grid_size], save=not prefix)
            evaluation = evaluator(fake, stages=[o[r.index] for o in outputs] if cfg.eval.stages else None,
                                   detector_fake=detector_images[prefix][r.index] if final else None,
                                   generator=generators[prefix].replica(r.index))
            r.last |= {f"{prefix}{k}": v for k, v in evaluation.metrics.items()}
            if not prefix and cfg.eval.figures and (state.step % (cfg.eval.every * cfg.eval.figures_every) == 0
                                                    or state.step == cfg.train.steps):
                r.logger.spectra(state.step, evaluation.fake, evaluation.real)
        r.logger.metrics(state.step, r.last, logged=r.train_stats)  # the record keeps the losses beside the metrics
        r.logger.flush()


# ---------------------------------------------------------------------------------------------
# The loop


def next_batches(streams: list, device: torch.device, batch_format: torch.memory_format) -> torch.Tensor:
    """One batch from each replica's data stream, ``(K, B, C, S, S)`` on ``device``."""
    if len(streams) == 1:  # a 4-D batch keeps its memory format (NHWC with train.channels_last)
        return next(streams[0]).to(device, non_blocking=True, memory_format=batch_format)[None]
    return torch.stack([next(s) for s in streams]).to(device, non_blocking=True)


def check_divergence(state: State, finite_losses: torch.Tensor, replicas: list[Replica], good: dict | None,
                     job: RunDir) -> None:
    """Freeze replicas with a NaN/Inf in a loss or weight (one host sync): their record says
    ``diverged``, their networks go back to the last checkpoint's, the rest train on. When none is
    left, ``TrainingDiverged``; the last good checkpoint is kept."""
    ok = (finite_losses & state.G.finite() & state.D.finite()).tolist()
    for r in replicas:
        if not ok[r.index] and not state.diverged[r.index]:
            state.diverged[r.index] = True
            lifecycle.mark_diverged(r, state.step)
    if not state.active:
        raise TrainingDiverged(f"NaN/Inf in a loss or weight by step {state.step}; "
                               f"the last good checkpoint in {job.checkpoint_dir} is kept")
    if good is not None and any(state.diverged):
        restore(state, good)


def snapshot(state: State) -> dict[str, dict[str, torch.Tensor]]:
    """A copy of the networks' stacked tensors: what a diverged replica is frozen at."""
    return {name: {k: v.clone() for k, v in net.state_dict().items()} for name, net in state.networks().items()}


def restore(state: State, good: dict[str, dict[str, torch.Tensor]]) -> None:
    """Put the diverged replicas' networks back to ``good`` (a frozen replica stays finite)."""
    frozen = torch.tensor(state.diverged)
    for name, net in state.networks().items():
        net.load_state_dict(good[name], replicas=frozen)


def run_loop(cfg: DictConfig, state: State, dataset, evaluator: Evaluator, replicas: list[Replica], job: RunDir,
             device: torch.device) -> None:
    """Steps ``state.step .. train.steps`` with logging, evaluation, checkpoints and stop signals."""
    steps = int(cfg.train.steps)
    streams = [batches(dataset, cfg.train.batch_size, seed=s, start_step=state.step,
                       num_workers=cfg.train.num_workers) for s in state.seeds]
    batch_format = memory_format(cfg.train.channels_last)
    packed = len(state.seeds) > 1
    good = snapshot(state) if packed else None  # what a diverged replica is frozen at
    if state.step == 0:
        evaluate(state, evaluator, replicas, cfg)
    progress = lifecycle.Progress(job.name, state.step, steps, enabled=cfg.train.progress)
    finite = torch.ones(len(state.seeds), dtype=torch.bool, device=device)  # checked on the host only at log/ckpt
    with deferred_signals() as signals:
        try:
            while state.step < steps:
                stats = train_step(state, next_batches(streams, device, batch_format), cfg.train.loss, cfg.train.amp)
                if good is not None and any(state.diverged):
                    restore(state, good)
                finite &= torch.isfinite(stats[N.LOSS_D]) & torch.isfinite(stats[N.LOSS_G])
                state.step += 1
                progress.update(state.step)
                log_now = state.step % cfg.train.log_every == 0 or state.step == steps
                eval_now = state.step % cfg.eval.every == 0 or state.step == steps
                ckpt_now = state.step % cfg.train.ckpt_every == 0 or state.step == steps or signals.received
                if log_now or eval_now or ckpt_now:
                    check_divergence(state, finite, replicas, good, job)
                if log_now:
                    values = torch.stack(list(stats.values())).tolist()  # (names, K): one sync
                    for r in replicas:
                        if not state.diverged[r.index]:
                            r.train_stats = {k: v[r.index] for k, v in zip(stats, values)}
                            r.logger.scalars(state.step, r.train_stats)
                            r.heartbeat.beat(state.step)
                    progress.show({k.removeprefix(N.TRAIN_PREFIX): f"{v[0]:.3f}" for k, v in zip(stats, values)
                                   if k in (N.LOSS_D, N.LOSS_G)})
                if eval_now:
                    evaluate(state, evaluator, replicas, cfg)
                if ckpt_now:
                    save_checkpoint(state, job.checkpoint_dir, periodic=state.step % cfg.train.ckpt_every == 0)
                    good = snapshot(state) if packed else None
                if signals.received:
                    for r in replicas:
                        r.logger.flush()
                    act_on_signals(signals, state.step, lifecycle.host_signal_status([r.run for r in replicas]),
                                   lifecycle.resume_hint(job))
        finally:
            progress.close()


# ---------------------------------------------------------------------------------------------
# A job


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train the DCGAN(s) ``cfg`` describes; write the run directories; return the final metrics.

    The job directory is locked for this process (``RunDir.lock``). Raises ``TrainingDiverged``
    (NaN/Inf in every replica) and ``TrainingInterrupted`` (SIGTERM/SIGINT), after recording the
    outcome in ``status.json`` (and, for divergence, in ``metrics.jsonl``). A job that already
    reached ``train.steps`` returns its final metrics without training. The metrics: the headline
    numbers (``gan.run.records.run_headline``), ``last/NAME`` for the last evaluation; with several
    seeds, their mean, and each seed's under ``replicas``.
    """
    job = RunDir.of(cfg)
    if job.held():  # accepted and locked before Hydra wrote anything (gan.run.callbacks.AcceptRun)
        return train_in(job, cfg)
    lifecycle.accept(cfg, job)  # a sweep job, or train() called directly: the same check, once, then the lock
    job.lock()  # one writer per job directory; RunDirInUse (exit 2) if another process has it
    try:
        return train_in(job, cfg)
    finally:
        job.unlock()


def replicas_of(job: RunDir, cfg: DictConfig) -> list[Replica]:
    """One replica per seed. A single seed writes the job directory; several write ``seed=S/``
    under it, each with the config of the single run with that seed."""
    seeds = seeds_of(cfg)
    if len(seeds) == 1:
        return [Replica(0, cfg, job)]
    out = []
    for k, seed in enumerate(seeds):
        run = job.replica(seed)
        rcfg = cfg.copy()
        rcfg.seed, rcfg.num_seeds, rcfg.run_dir = seed, 1, str(run.path)
        out.append(Replica(k, rcfg, run))
    return out


def train_in(job: RunDir, cfg: DictConfig) -> dict[str, Any]:
    """Set up (data, networks, the checkpoint to continue from), run the loop, record how it ended."""
    started = time.time()
    replicas = replicas_of(job, cfg)
    ended = lifecycle.finished_at(replicas, cfg.train.steps)
    if ended is not None:  # a finished run answers before data and networks are built
        return lifecycle.finish(job, cfg, replicas, *ended, None)
    with lifecycle.recorded([r.run for r in replicas]):
        seed_everything(cfg.seed, cfg.deterministic)
        set_threads(cfg.threads)
        device = resolve_device(cfg.device)
        dataset = build_dataset(cfg)
        channels = int(dataset[0].shape[0])
        log.info("device %s, %d CPU threads; data: %s; seeds %s", device, torch.get_num_threads(), describe(dataset),
                 seeds_of(cfg))
        state = new_state(cfg, channels, device)
        resumed = lifecycle.resume_point(job, cfg, device)
        if resumed is not None:
            state.load_state_dict(resumed[0])
            log.info("resumed from %s at step %d", resumed[1], state.step)
        for r in replicas:
            lifecycle.open_run(r, state.step, resumed is not None)
        evaluator = Evaluator.from_config(dataset, cfg, device)
        run_loop(cfg, state, dataset, evaluator, replicas, job, device)
    return lifecycle.finish(job, cfg, replicas, state.step, state.diverged, time.time() - started)
