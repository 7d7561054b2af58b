"""Objects from config: upsamplers by preset name, networks and data from a composed config
(``hydra.utils.instantiate`` of their ``_target_``)."""
from __future__ import annotations

from typing import Any, Mapping

from hydra.utils import instantiate
from omegaconf import DictConfig

from gan.core.config import preset_factory
from gan.model.networks import Discriminator, Generator
from gan.model.upsamplers import Upsampler


def upsampler(name_or_cfg: str | Mapping[str, Any], in_channels: int, out_channels: int) -> Upsampler:
    """An upsampler from a preset name (``conf/upsampler/NAME.yaml``) or a config with ``_target_``:
    ``(B, in_channels, H, W) -> (B, out_channels, 2H, 2W)``."""
    return preset_factory("upsampler", name_or_cfg)(in_channels, out_channels)


def build_generator(cfg: DictConfig, channels: int) -> Generator:
    """``cfg.generator`` with the run's image size, channels and upsampler."""
    return instantiate(cfg.generator)(image_size=cfg.image_size, channels=channels, upsampler=cfg.upsampler)


def build_discriminator(cfg: DictConfig, channels: int) -> Discriminator:
    return instantiate(cfg.discriminator)(image_size=cfg.image_size, channels=channels)


def build_models(cfg: DictConfig, channels: int) -> tuple[Generator, Discriminator]:
    return build_generator(cfg, channels), build_discriminator(cfg, channels)


def build_dataset(cfg: DictConfig):
    """``cfg.data`` at the run's image size: a dataset of ``(C, S, S)`` images in [-1, 1]."""
    return instantiate(cfg.data, _partial_=True)(image_size=cfg.image_size)
