"""The training state of ``num_seeds`` replicas: both networks (``gan.model.replicas.Replicas``), their
optimizers, the loss scaler, each replica's noise generator and fixed evaluation noise, the step;
what a checkpoint holds (with every RNG state and the resolved config).

Replica k is the run that ``seed + k`` alone would be: its networks are initialised from the
global RNG seeded with its seed, as a single run's are; its training noise comes from its own
generator; its data order from ``gan.data.loading.batches`` with its seed.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gan.core.runtime import memory_format
from gan.model.build import build_models
from gan.model.replicas import Replicas
from gan.run import checkpoint as ckpt

#: The training noise of the run with seed s comes from a generator seeded with s + this offset.
NOISE_SEED_OFFSET = 1_000_003
#: The fixed evaluation noise of the run with seed s: a generator seeded with s + this offset.
EVAL_SEED_OFFSET = 12345
#: ... and of the noise of the detectors' images (``detector_noise``), drawn apart from both.
DETECTOR_SEED_OFFSET = 7_654_321


def seeds_of(cfg: DictConfig) -> list[int]:
    """The seeds a job trains: ``seed .. seed + num_seeds - 1``."""
    return [int(cfg.seed) + k for k in range(int(cfg.get("num_seeds", 1)))]


@dataclass
class State:
    """Everything a checkpoint holds besides the RNG states and the config."""

    G: Replicas
    D: Replicas
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    fixed_z: torch.Tensor                    # (K, N, z_dim) evaluation noise of each replica
    noise: list[torch.Generator]             # each replica's training noise
    seeds: list[int]
    # loss scaling for train.amp=fp16 (one replica only); a pass-through when disabled
    scaler: torch.amp.GradScaler = field(default_factory=lambda: torch.amp.GradScaler("cpu", enabled=False))
    step: int = 0
    diverged: list[bool] = field(default_factory=list)  # frozen replicas (NaN/Inf); the rest go on
    config: dict[str, Any] | None = None     # the resolved job config, so a checkpoint alone can be rebuilt
    G_ema: Replicas | None = None            # exponential moving average of G's weights (train.ema > 0)

    def __post_init__(self) -> None:
        self.diverged = self.diverged or [False] * len(self.seeds)

    @property
    def ema_decay(self) -> float:
        return float((self.config or {}).get("train", {}).get("ema", 0.0))

    def networks(self) -> dict[str, Replicas]:
        """Every replicated network of the state, by its checkpoint name."""
        return {"G": self.G, "D": self.D, **({"G_ema": self.G_ema} if self.G_ema is not None else {})}

    @property
    def active(self) -> list[int]:
        """Replicas still training."""
        return [k for k, d in enumerate(self.diverged) if not d]

    def state_dict(self) -> dict[str, Any]:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "scaler": self.scaler.state_dict(), "fixed_z": self.fixed_z.cpu(),
                "noise": [g.get_state() for g in self.noise], "seeds": list(self.seeds),
                "diverged": list(self.diverged), "step": self.step, "rng": ckpt.rng_state(), "config": self.config,
                **({"G_ema": self.G_ema.state_dict()} if self.G_ema is not None else {})}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        if list(s.get("seeds", self.seeds)) != self.seeds:
            raise ckpt.CheckpointError(f"the checkpoint holds seeds {s['seeds']}, this job trains {self.seeds}")
        self.G.load_state_dict(s["G"])
        self.D.load_state_dict(s["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(s.get("G_ema", s["G"]))
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        if s.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(s["scaler"])
        self.fixed_z.copy_(s["fixed_z"])
        for g, saved in zip(self.noise, s["noise"]):
            g.set_state(saved)
        self.diverged = list(s.get("diverged", self.diverged))
        self.step = int(s["step"])
        ckpt.set_rng_state(s["rng"])


def detector_noise(seeds: list[int], n: int, z_dim: int) -> torch.Tensor:
    """``(K, n, z_dim)`` noise of each seed's detector images (``gan.measure.detectors``), on the CPU: drawn
    apart from the evaluation and training noise, the same for a seed whenever it is drawn."""
    return torch.stack([torch.randn(n, z_dim, generator=torch.Generator().manual_seed(s + DETECTOR_SEED_OFFSET))
                        for s in seeds])


def new_state(cfg: DictConfig, channels: int, device: torch.device) -> State:
    """Fresh replicas for ``seeds_of(cfg)`` on ``device`` (NHWC with ``train.channels_last``), their
    Adam optimizers, the gradient scaler, noise generators and fixed evaluation noise."""
    seeds = seeds_of(cfg)
    nets = []
    for seed in seeds:  # each replica initialised as a run with that seed alone is
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            nets.append(build_models(cfg, channels))
    fmt = memory_format(cfg.train.channels_last)
    G_ema = Replicas([copy.deepcopy(g) for g, _ in nets]).to(device, memory_format=fmt) if cfg.train.ema > 0 else None
    if G_ema is not None:
        for p in G_ema.parameters():
            p.requires_grad_(False)
    G = Replicas([g for g, _ in nets]).to(device, memory_format=fmt)
    D = Replicas([d for _, d in nets]).to(device, memory_format=fmt)
    if cfg.train.compile != "off":  # compiled on its first call
        G.compile(cfg.train.compile), D.compile(cfg.train.compile)
    betas = tuple(cfg.train.betas)
    fused = {"fused": True} if device.type == "cuda" else {}  # one kernel for all parameters
    fixed_z = torch.stack([torch.randn(cfg.eval.num_samples, cfg.generator.z_dim,
                                       generator=torch.Generator().manual_seed(s + EVAL_SEED_OFFSET)) for s in seeds])
    noise = [torch.Generator(device=device).manual_seed(s + NOISE_SEED_OFFSET) for s in seeds]
    return State(G, D, torch.optim.Adam(G.parameters(), lr=cfg.train.lr_g, betas=betas, **fused),
                 torch.optim.Adam(D.parameters(), lr=cfg.train.lr_d, betas=betas, **fused), fixed_z.to(device),
                 noise, seeds, scaler=torch.amp.GradScaler(device.type, enabled=cfg.train.amp == "fp16"),
                 config=OmegaConf.to_container(cfg, resolve=True), G_ema=G_ema)


def save_checkpoint(state: State, ckpt_dir: Path, periodic: bool) -> None:
    """``last.pt`` (and, if ``periodic``, ``step_XXXXXXX.pt``), each written atomically."""
    payload = state.state_dict()
    if periodic:
        ckpt.save_atomic(payload, ckpt_dir / ckpt.periodic_name(state.step))
    ckpt.save_atomic(payload, ckpt_dir / ckpt.LAST)
