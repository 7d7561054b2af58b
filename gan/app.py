"""What the entry points need from Hydra: the suite's sweeper registered, and the composed config.

``train.py``, the tests, the benchmarks and ``gan.analyze`` compose ``conf/train.yaml`` through
``compose``; nothing below this module imports it (the sweeper it registers imports the library).
"""
from __future__ import annotations

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins
from omegaconf import DictConfig

from gan.core.config import CONF_DIR, plain_optional
from hydra_plugins.gan_sweeper.gan_sweeper import GanSweeper


def register_plugins() -> None:
    """Register the ``gan`` sweeper (``hydra_plugins/gan_sweeper``, the default of ``train.yaml``) with
    Hydra. Hydra finds plugins by walking the ``hydra_plugins`` namespace package, which misses
    them in an editable install; an explicit registration works in every kind of install."""
    plugins = Plugins.instance()
    if f"{GanSweeper.__module__}.{GanSweeper.__name__}" not in plugins.class_name_to_class:
        plugins.register(GanSweeper)


def compose(*overrides: str) -> DictConfig:
    """The composed ``train.yaml`` with ``overrides``, without running Hydra (tests, benchmarks, analyze)."""
    register_plugins()
    overrides = tuple(plain_optional(o) for o in overrides)
    if GlobalHydra.instance().is_initialized():  # inside a running Hydra app: compose there
        return hydra_compose("train", overrides=list(overrides))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose("train", overrides=list(overrides))
