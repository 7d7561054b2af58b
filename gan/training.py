"""``train(cfg) -> dict``: the DCGAN training loop, free of Hydra decorators so tests call it directly."""
from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from gan import checkpoint as ckpt
from gan.convmath import dc_checkerboard, dc_response
from gan.data import batches, describe
from gan.logging import RunLogger, flatten, write_status
from gan.networks import Discriminator, Generator, sample
from gan.validate import validate

log = logging.getLogger(__name__)
CONFIG_FILE = "config.yaml"


# ---------------------------------------------------------------------------------------------
# Losses: logits -> scalar


def d_loss(loss: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    if loss == "bce":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if loss == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    raise ValueError(f"train.loss must be 'bce' or 'hinge', got {loss!r}")


def g_loss(loss: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if loss == "bce":  # non-saturating
        return F.softplus(-fake_logits).mean()
    if loss == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"train.loss must be 'bce' or 'hinge', got {loss!r}")


# ---------------------------------------------------------------------------------------------
# Set-up


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:  # cuBLAS needs this for deterministic matmuls; set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op without a deterministic kernel (on CUDA, e.g. bilinear upsampling's backward)
    # warns instead of stopping the run
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def set_threads(threads: int | None) -> None:
    """CPU threads for intra-op parallelism. None keeps PyTorch's choice: the CPUs this process may
    run on (its affinity mask, e.g. SLURM's cpus_per_task), or what joblib's workers were given."""
    if threads is not None:
        torch.set_num_threads(int(threads))


def memory_format(cfg: DictConfig) -> torch.memory_format:
    """NHWC for both networks and the batches with ``train.channels_last``, else the default NCHW."""
    return torch.channels_last if cfg.train.channels_last else torch.contiguous_format


AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager:
    """Mixed precision for a training step: ``amp`` none | bf16 | fp16."""
    if amp == "none":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[amp])


def run_directory(cfg: DictConfig) -> Path:
    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path.cwd()


def build_models(cfg: DictConfig, channels: int) -> tuple[Generator, Discriminator]:
    G = Generator(cfg.image_size, channels, cfg.generator.ngf, cfg.generator.z_dim,
                  upsampler=cfg.upsampler, upsample_layers=cfg.generator.upsample_layers)
    D = Discriminator(cfg.image_size, channels, cfg.discriminator.ndf, cfg.discriminator.downsample)
    return G, D


def build_dataset(cfg: DictConfig):
    return instantiate(cfg.data, _partial_=True)(image_size=cfg.image_size)


@dataclass
class State:
    """Everything a checkpoint holds besides the RNG states."""

    G: Generator
    D: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    fixed_z: torch.Tensor
    # loss scaling for train.amp=fp16; a pass-through when disabled
    scaler: torch.amp.GradScaler = field(default_factory=lambda: torch.amp.GradScaler("cpu", enabled=False))
    step: int = 0

    def state_dict(self) -> dict[str, Any]:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "scaler": self.scaler.state_dict(),
                "fixed_z": self.fixed_z.cpu(), "step": self.step, "rng": ckpt.rng_state()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.G.load_state_dict(s["G"])
        self.D.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        if s.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(s["scaler"])
        self.fixed_z.copy_(s["fixed_z"])
        self.step = int(s["step"])
        ckpt.set_rng_state(s["rng"])


def new_state(cfg: DictConfig, channels: int, device: torch.device) -> State:
    """Fresh networks on ``device`` (NHWC with ``train.channels_last``), their Adam optimizers, the
    gradient scaler and the fixed evaluation noise (seeded)."""
    G, D = build_models(cfg, channels)
    G.to(device, memory_format=memory_format(cfg)), D.to(device, memory_format=memory_format(cfg))
    betas = tuple(cfg.train.betas)
    fixed_z = torch.randn(cfg.eval.num_samples, cfg.generator.z_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 12345))
    return State(G, D, torch.optim.Adam(G.parameters(), lr=cfg.train.lr_g, betas=betas),
                 torch.optim.Adam(D.parameters(), lr=cfg.train.lr_d, betas=betas), fixed_z.to(device),
                 scaler=torch.amp.GradScaler(device.type, enabled=cfg.train.amp == "fp16"))


def save_checkpoint(state: State, ckpt_dir: Path, periodic: bool) -> None:
    payload = state.state_dict()
    if periodic:
        ckpt.save_atomic(payload, ckpt_dir / f"step_{state.step:07d}.pt")
    ckpt.save_atomic(payload, ckpt_dir / ckpt.LAST)


# ---------------------------------------------------------------------------------------------
# The loop


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
    return {"loss/D": loss_d.detach(), "loss/G": loss_g.detach(),
            "D/real": torch.sigmoid(real_logits.detach()).mean(), "D/fake": torch.sigmoid(fake_logits.detach()).mean()}


def layer_checkerboard(G: Generator) -> dict[str, float]:
    """``dc_checkerboard/stageI``: how far each upsampler is from mapping a constant input to a
    constant output (0 = checkerboard-free at DC; see ``gan.convmath.dc_checkerboard``)."""
    return {f"dc_checkerboard/stage{i}": float(dc_checkerboard(dc_response(up, up.in_channels)))
            for i, up in enumerate(G.upsampling_layers())}


def evaluate(state: State, evaluator, logger: RunLogger, cfg: DictConfig) -> dict[str, Any]:
    fake = sample(state.G, state.fixed_z)
    logger.images(state.step, "samples", fake[: cfg.eval.grid_size], save_as=f"samples/step_{state.step:07d}.png")
    metrics = evaluator(fake, logger, state.step) | layer_checkerboard(state.G)
    logger.metrics(state.step, metrics)
    logger.flush()
    return metrics


class TrainingDiverged(RuntimeError):
    """A loss or weight became NaN/Inf; the last good checkpoint is kept."""


class TrainingInterrupted(RuntimeError):
    """SIGTERM/SIGINT (or the scheduler's warning signal) arrived; the current step was saved."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved, "
                         f"rerun the same command to resume")
        self.signum = signum


def stop_signals() -> tuple[int, ...]:
    """SIGTERM, SIGINT and the job scheduler's warning signal: submitit's ``$SUBMITIT_PREEMPT_SIGNAL``
    (default USR2), which SLURM sends before a preemption or the time limit."""
    names = ("SIGTERM", "SIGINT", "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))
    return tuple(dict.fromkeys(int(getattr(signal, n)) for n in names if hasattr(signal, n)))


@dataclass
class DeferredSignals:
    """Signals received during a step, and the handlers that were installed before training."""

    received: list[int] = field(default_factory=list)
    previous: dict[int, Any] = field(default_factory=dict)

    def host_handler(self, signum: int):
        """The Python handler a host process installed for ``signum`` (e.g. submitit's requeue), or
        None when the signal's default action applies (then training stops with a checkpoint)."""
        h = self.previous.get(signum)
        return h if callable(h) and h is not signal.default_int_handler else None


@contextlib.contextmanager
def deferred_signals(signums: tuple[int, ...] | None = None):
    """Record stop signals instead of acting mid-step; the loop acts on them at a step boundary."""
    deferred = DeferredSignals()
    if threading.current_thread() is not threading.main_thread():  # handlers only in the main thread
        yield deferred
        return
    for s in signums or stop_signals():
        deferred.previous[s] = signal.signal(s, lambda signum, frame: deferred.received.append(signum))
    try:
        yield deferred
    finally:
        for s, handler in deferred.previous.items():
            signal.signal(s, handler)


def act_on_signals(deferred: DeferredSignals, step: int, run_dir: Path) -> None:
    """Called after the checkpoint of ``step`` was saved. A signal with a host handler is passed to
    it (submitit requeues the job and exits, or ignores SIGTERM); any other stops training."""
    while deferred.received:
        signum = deferred.received.pop(0)
        host = deferred.host_handler(signum)
        if host is None:
            raise TrainingInterrupted(signum, step)
        name, owner = signal.Signals(signum).name, getattr(host, "__qualname__", repr(host))
        log.warning("%s at step %d: checkpoint saved; passing the signal to %s", name, step, owner)
        write_status(run_dir, "interrupted", step=step, error=f"{name} at step {step}, passed to {owner}")
        host(signum, None)  # may exit the process (submitit: after requeueing this job)
        write_status(run_dir, "running", step=step)


def user_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "fix your config or data" (exit code 2), not a bug."""
    from gan.checkpoint import CheckpointError
    from gan.data import DataError

    return (DataError, CheckpointError, ValueError)


def finite_model(state: State) -> bool:
    """No NaN/Inf in any weight (one host sync)."""
    return bool(torch.stack([torch.isfinite(p).all() for net in (state.G, state.D) for p in net.parameters()]).all())


def train(cfg: DictConfig) -> dict[str, Any]:
    """Train a DCGAN as ``cfg`` says; write the run directory; return the final metrics.

    Raises ``TrainingDiverged`` (NaN/Inf) and ``TrainingInterrupted`` (SIGTERM/SIGINT), after
    recording the outcome in ``status.json`` (and, for divergence, in ``metrics.jsonl``).
    """
    from gan.evaluation import Evaluator  # spectral metrics of generated vs real images

    validate(cfg)
    run_dir = run_directory(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run_dir / "checkpoints"
    write_status(run_dir, "running")
    try:
        seed_everything(cfg.seed, cfg.deterministic)
        set_threads(cfg.threads)
        device = resolve_device(cfg.device)
        dataset = build_dataset(cfg)
        channels = int(dataset[0].shape[0])
        log.info("device %s, %d CPU threads; data: %s", device, torch.get_num_threads(), describe(dataset))
        state = new_state(cfg, channels, device)
        resumed = ckpt.load_latest(ckpt_dir, map_location=device, warn=log.warning) if cfg.train.resume else None
        if resumed is not None:
            state.load_state_dict(resumed[0])
            log.info("resumed from %s at step %d", resumed[1], state.step)
        logger = RunLogger(run_dir, resume_step=state.step if resumed else None)
        if resumed is None:
            logger.text("config", f"```\n{OmegaConf.to_yaml(cfg)}\n```")
        OmegaConf.save(cfg, run_dir / CONFIG_FILE, resolve=True)  # what gan.analyze rebuilds the model from
        evaluator = Evaluator(dataset, cfg, device)
        final = run_loop(cfg, state, dataset, evaluator, logger, ckpt_dir, device)
    except TrainingDiverged as e:
        write_status(run_dir, "diverged", error=str(e))
        raise
    except TrainingInterrupted as e:
        write_status(run_dir, "interrupted", error=str(e))
        raise
    except SystemExit:  # a host's signal handler ended the process; act_on_signals wrote the status
        raise
    except BaseException as e:
        write_status(run_dir, "failed", error=f"{type(e).__name__}: {e}")
        raise
    logger.hparams(flatten(OmegaConf.to_container(cfg, resolve=True)), final)
    logger.close()
    write_status(run_dir, "finished", step=final["step"])
    return final


def run_loop(cfg: DictConfig, state: State, dataset, evaluator, logger: RunLogger, ckpt_dir: Path,
             device: torch.device) -> dict[str, Any]:
    """Steps ``state.step .. train.steps`` with logging, evaluation and checkpoints."""
    steps = int(cfg.train.steps)
    data = batches(dataset, cfg.train.batch_size, seed=cfg.seed, start_step=state.step,
                   num_workers=cfg.train.num_workers)
    batch_format = memory_format(cfg)
    metrics: dict[str, Any] = {}
    if state.step == 0:
        metrics = evaluate(state, evaluator, logger, cfg)
    bar = tqdm(total=steps, initial=state.step, desc=f"train {logger.run_dir.name}",
               disable=not cfg.train.progress, dynamic_ncols=True)
    stats: dict[str, torch.Tensor] = {}
    finite = torch.ones((), dtype=torch.bool, device=device)  # checked on the host only at log/ckpt steps
    with deferred_signals() as signals:
        try:
            while state.step < steps:
                real = next(data).to(device, non_blocking=True, memory_format=batch_format)
                stats = train_step(state, real, cfg.train.loss, cfg.train.amp)
                finite &= torch.isfinite(stats["loss/D"]) & torch.isfinite(stats["loss/G"])
                state.step += 1
                bar.update(1)
                log_now = state.step % cfg.train.log_every == 0 or state.step == steps
                eval_now = state.step % cfg.eval.every == 0 or state.step == steps
                ckpt_now = state.step % cfg.train.ckpt_every == 0 or state.step == steps or signals.received
                if (log_now or eval_now or ckpt_now) and not (bool(finite) and finite_model(state)):
                    logger.metrics(state.step, {"diverged": True})
                    raise TrainingDiverged(f"NaN/Inf in a loss or weight by step {state.step}; "
                                           f"the last good checkpoint in {ckpt_dir} is kept")
                if log_now:
                    values = dict(zip(stats, torch.stack(list(stats.values())).tolist()))  # one sync
                    logger.scalars(state.step, values)
                    bar.set_postfix({k[5:]: f"{v:.3f}" for k, v in values.items() if k.startswith("loss/")})
                if eval_now:
                    metrics = evaluate(state, evaluator, logger, cfg)
                if ckpt_now:
                    save_checkpoint(state, ckpt_dir, periodic=state.step % cfg.train.ckpt_every == 0)
                if signals.received:
                    logger.flush()
                    act_on_signals(signals, state.step, logger.run_dir)
        finally:
            bar.close()
    return {"step": state.step, **{k: float(v) for k, v in stats.items()}, **metrics}
