"""The training state: both networks, their optimizers, the loss scaler, the fixed evaluation noise
and the step; what a checkpoint holds (with every RNG state and the resolved config)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gan import checkpoint as ckpt
from gan.build import build_models
from gan.networks import Discriminator, Generator
from gan.runtime import memory_format


@dataclass
class State:
    """Everything a checkpoint holds besides the RNG states and the config."""

    G: Generator
    D: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    fixed_z: torch.Tensor
    # loss scaling for train.amp=fp16; a pass-through when disabled
    scaler: torch.amp.GradScaler = field(default_factory=lambda: torch.amp.GradScaler("cpu", enabled=False))
    step: int = 0
    config: dict[str, Any] | None = None  # the resolved run config, so a checkpoint alone can be rebuilt

    def state_dict(self) -> dict[str, Any]:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "scaler": self.scaler.state_dict(),
                "fixed_z": self.fixed_z.cpu(), "step": self.step, "rng": ckpt.rng_state(), "config": self.config}

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
    fmt = memory_format(cfg.train.channels_last)
    G.to(device, memory_format=fmt), D.to(device, memory_format=fmt)
    betas = tuple(cfg.train.betas)
    fixed_z = torch.randn(cfg.eval.num_samples, cfg.generator.z_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 12345))
    return State(G, D, torch.optim.Adam(G.parameters(), lr=cfg.train.lr_g, betas=betas),
                 torch.optim.Adam(D.parameters(), lr=cfg.train.lr_d, betas=betas), fixed_z.to(device),
                 scaler=torch.amp.GradScaler(device.type, enabled=cfg.train.amp == "fp16"),
                 config=OmegaConf.to_container(cfg, resolve=True))


def save_checkpoint(state: State, ckpt_dir: Path, periodic: bool) -> None:
    """``last.pt`` (and, if ``periodic``, ``step_XXXXXXX.pt``), each written atomically."""
    payload = state.state_dict()
    if periodic:
        ckpt.save_atomic(payload, ckpt_dir / f"step_{state.step:07d}.pt")
    ckpt.save_atomic(payload, ckpt_dir / ckpt.LAST)
