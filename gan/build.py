"""Networks and data from a composed config (``hydra.utils.instantiate`` of their ``_target_``)."""
from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import DictConfig

from gan.networks import Discriminator, Generator


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
