"""Hydra plugins of the suite, registered explicitly."""
from __future__ import annotations


def register_plugins() -> None:
    """Register the ``gan`` sweeper (``hydra_plugins/gan_sweeper``, the default of ``train.yaml``) with
    Hydra. Hydra finds plugins by walking the ``hydra_plugins`` namespace package, which misses
    them in an editable install; an explicit registration works in every kind of install."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.gan_sweeper.gan_sweeper import GanSweeper

    plugins = Plugins.instance()
    if f"{GanSweeper.__module__}.{GanSweeper.__name__}" not in plugins.class_name_to_class:
        plugins.register(GanSweeper)
