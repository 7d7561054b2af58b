"""Checks of a composed config before anything heavy starts.

``validate(cfg)`` raises ``ConfigError`` with one line that names the key and what is allowed.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from gan.errors import ConfigError
from gan.losses import LOSSES
from gan.networks import DOWNSAMPLERS, UPSAMPLE_LAYERS
from gan.runtime import AMP_CHOICES
from gan.spectral import BOUNDARIES, CHANNEL_MODES, SATURATION_TREATMENTS, WINDOWS

__all__ = ["ConfigError", "validate"]


def _get(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=True)
    except MissingMandatoryValue as e:
        raise ConfigError(f"{key} must be set (for example {key}=...)") from e


def _require(cond: bool, key: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def _positive_int(cfg: DictConfig, key: str, minimum: int = 1) -> int:
    v = _get(cfg, key)
    _require(isinstance(v, int) and not isinstance(v, bool) and v >= minimum, key, v, f"must be an integer >= {minimum}")
    return v


def _choice(cfg: DictConfig, key: str, choices: Iterable[str]) -> None:
    choices = list(choices)
    v = _get(cfg, key)
    _require(v in choices, key, v, f"choose one of {', '.join(choices)}")


def _positive_float(cfg: DictConfig, key: str) -> None:
    v = _get(cfg, key)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
    _require(ok, key, v, "must be a finite number > 0")


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` for the first unusable value in ``cfg``."""
    size = _get(cfg, "image_size")
    _require(isinstance(size, int) and size >= 8 and size & (size - 1) == 0, "image_size", size,
             "must be a power of two >= 8 (8, 16, 32, 64, 128, ...)")
    for key in ("train.steps", "train.batch_size", "train.log_every", "train.ckpt_every", "eval.every",
                "eval.num_samples", "eval.num_real", "eval.grid_size", "generator.ngf", "generator.z_dim",
                "discriminator.ndf"):
        _positive_int(cfg, key)
    _positive_int(cfg, "train.num_workers", minimum=0)
    _positive_float(cfg, "train.lr_g")
    _positive_float(cfg, "train.lr_d")
    betas = _get(cfg, "train.betas")
    _require(len(betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas), "train.betas",
             list(betas), "must be two numbers in [0, 1)")
    _choice(cfg, "train.loss", LOSSES)
    _choice(cfg, "train.amp", AMP_CHOICES)
    if _get(cfg, "threads") is not None:
        _positive_int(cfg, "threads")
    _choice(cfg, "generator.upsample_layers", UPSAMPLE_LAYERS)
    _choice(cfg, "discriminator.downsample", DOWNSAMPLERS)
    _choice(cfg, "eval.window", WINDOWS)
    _choice(cfg, "eval.channels", CHANNEL_MODES)
    _choice(cfg, "eval.boundary", BOUNDARIES)
    _choice(cfg, "eval.saturation", SATURATION_TREATMENTS)
    _require(cfg.eval.grid_size <= cfg.eval.num_samples, "eval.grid_size", cfg.eval.grid_size,
             f"must be <= eval.num_samples={cfg.eval.num_samples}")
    f_min = _get(cfg, "eval.f_min")
    _require(isinstance(f_min, (int, float)) and 0 <= f_min < 0.5, "eval.f_min", f_min,
             "must be in [0, 0.5) cycles/pixel")
    for key in cfg.data:
        _get(cfg, f"data.{key}")  # e.g. data.root=??? for data=folder
    channels = OmegaConf.select(cfg, "data.channels")
    if channels is not None:
        _require(channels in (1, 3), "data.channels", channels, "must be 1 or 3")
    _check_upsampler(cfg)
    _check_device(_get(cfg, "device"))


def _check_upsampler(cfg: DictConfig) -> None:
    """Build the chosen upsampler on a tiny input: it must exist and give exactly 2H x 2W."""
    from gan import upsamplers

    try:
        up = upsamplers.build(cfg.upsampler, 2, 2)
        y = up(torch.zeros(1, 2, 3, 5))
    except Exception as e:  # noqa: BLE001 - any failure here is a config problem
        raise ConfigError(f"upsampler: {e}") from e
    if tuple(y.shape[-2:]) != (6, 10):
        settings = {k: v for k, v in cfg.upsampler.items() if not k.startswith("_")}
        raise ConfigError(f"upsampler settings {settings} map 3x5 to {y.shape[-2]}x{y.shape[-1]}, not 6x10")


def _check_device(name: str) -> None:
    try:
        dev = torch.device(name) if name != "auto" else None
    except RuntimeError as e:
        raise ConfigError(f"device={name!r} is invalid: use auto, cpu, cuda, cuda:N or mps") from e
    if dev is not None and dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} is invalid: CUDA is not available here (use device=auto or cpu)")
    if dev is not None and dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device={name!r} is invalid: MPS is not available here (use device=auto or cpu)")
