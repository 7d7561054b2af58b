"""The Hydra config tree: where it lives and its presets, and how overrides are read.

The tree is ``conf/`` at the top of a source checkout; an installed wheel carries the same files
as ``gan/conf/`` (``pyproject.toml`` maps one onto the other), so preset lookups by name
(``gan.build.upsampler("transposed", ...)``, ``gan.analyze --reference deadleaves``) work either way.
This module imports nothing else of the project: composing the whole tree with Hydra (which
needs the suite's sweeper plugin) is ``gan.app.compose``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

_PACKAGE = Path(__file__).resolve().parent.parent  # gan/


def _find_conf_dir() -> Path:
    for candidate in (_PACKAGE / "conf", _PACKAGE.parent / "conf"):  # installed wheel; source checkout
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no Hydra config tree (train.yaml) in {_PACKAGE / 'conf'} or {_PACKAGE.parent / 'conf'}")


#: The Hydra config tree (``conf/`` in a checkout, ``gan/conf/`` when installed from a wheel).
CONF_DIR = _find_conf_dir()

#: Config groups whose default is null in train.yaml: ``+group=x`` and ``group=x`` mean the same.
OPTIONAL_GROUPS = ("experiment", "debug")


def presets(group: str) -> list[str]:
    """Names of the options of a config group, e.g. ``presets("upsampler")``."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml") if not p.stem.startswith("_"))


def load_preset(group: str, name: str) -> DictConfig:
    """One option of a config group as a config, e.g. ``load_preset("upsampler", "transposed")``."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown {group} {name!r}; choose one of {presets(group)}")
    return OmegaConf.load(path)


def preset_factory(group: str, name_or_cfg: str | Mapping[str, Any]) -> Callable[..., Any]:
    """The partial object of a preset name (``conf/GROUP/NAME.yaml``) or of a config with ``_target_``:
    ``preset_factory("upsampler", "resize_nearest")(in_channels, out_channels)``."""
    cfg = load_preset(group, name_or_cfg) if isinstance(name_or_cfg, str) else name_or_cfg
    return instantiate(cfg, _partial_=True)


def override_key(override: str) -> str:
    """``"+experiment=quick"`` -> ``"experiment"``; ``"~a.b"`` -> ``"a.b"``."""
    return override.split("=", 1)[0].lstrip("+~")


def override_value(override: str) -> str:
    """``"seed=1"`` -> ``"1"``; ``""`` for an override without a value (``~key``)."""
    return override.split("=", 1)[1] if "=" in override else ""


def value_of(overrides: Sequence[str], key: str, default: str | None = None) -> str | None:
    """The value of the first override of ``key`` in ``overrides`` (``default`` if none)."""
    return next((override_value(o) for o in overrides if override_key(o) == key), default)


def plain_optional(override: str) -> str:
    """``+experiment=quick`` -> ``experiment=quick`` (``OPTIONAL_GROUPS`` are in the defaults list)."""
    if override.startswith("+") and not override.startswith("++") and override_key(override) in OPTIONAL_GROUPS:
        return override[1:]
    return override


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a.b.c": value}`` for every leaf of a nested mapping (a plain container, e.g. from
    ``OmegaConf.to_container``); lists and every other value are leaves, kept as they are."""
    if not isinstance(node, Mapping):
        return {prefix: node}
    out: dict[str, Any] = {}
    for k, v in node.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


#: Modules that a ``_target_`` saved before the library was split into packages names, and where
#: they live now: a run started before the split is still the same run (resumed, compared, summarized).
MOVED_MODULES = {"gan.data.": {"deadleaves": "gan.data.procedural.", "strokes": "gan.data.procedural.",
                               "torchvision_dataset": "gan.data.files.", "folder": "gan.data.files."},
                 "gan.upsamplers.": "gan.model.upsamplers.", "gan.networks.": "gan.model.networks."}


def current_target(target: str) -> str:
    """A ``_target_`` as the library names it today (``MOVED_MODULES``): ``gan.upsamplers.TransposedConv``
    -> ``gan.model.upsamplers.TransposedConv``; any other name unchanged."""
    for old, new in MOVED_MODULES.items():
        module, _, name = target.rpartition(".")
        if module + "." == old:
            new = new.get(name) if isinstance(new, dict) else new
            return new + name if new else target
    return target


def with_current_targets(cfg: DictConfig) -> DictConfig:
    """``cfg`` with every ``_target_`` renamed by ``current_target`` (in place; returned)."""
    def visit(node: Any) -> None:
        if isinstance(node, DictConfig):
            for key in node.keys():
                value = node._get_node(key)
                if key == "_target_" and isinstance(node[key], str):
                    node[key] = current_target(node[key])
                elif isinstance(value, DictConfig):
                    visit(value)
    visit(cfg)
    return cfg
