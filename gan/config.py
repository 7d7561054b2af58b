"""The Hydra config tree: where it lives, how to compose it, and how runs are named from it.

The tree is ``conf/`` at the top of a source checkout; an installed wheel carries the same files
as ``gan/conf/`` (``pyproject.toml`` maps one onto the other), so preset lookups by name
(``gan.upsamplers.build("transposed", ...)``, ``gan.analyze --reference deadleaves``) work either way.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Mapping

from omegaconf import DictConfig, OmegaConf

_PACKAGE = Path(__file__).resolve().parent


def _find_conf_dir() -> Path:
    for candidate in (_PACKAGE / "conf", _PACKAGE.parent / "conf"):  # installed wheel; source checkout
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"no Hydra config tree (train.yaml) in {_PACKAGE / 'conf'} or {_PACKAGE.parent / 'conf'}")


#: The Hydra config tree (``conf/`` in a checkout, ``gan/conf/`` when installed from a wheel).
CONF_DIR = _find_conf_dir()

#: Environment variable with the command that started a run (set by train.py): what a stop message
#: tells the user to rerun to continue it.
COMMAND_ENV = "GAN_COMMAND"

#: Overrides that do not change what a run computes; they never appear in run or sweep names.
#: Raising ``train.steps`` or changing how a run is evaluated, logged or checkpointed continues it.
UNNAMED_KEYS = ("hydra", "paths", "run_dir", "device", "threads", "train.steps", "train.progress", "train.log_every",
                "train.ckpt_every", "train.num_workers", "train.resume", "eval", "data.root", "data.download",
                "resume")


def presets(group: str) -> list[str]:
    """Names of the options of a config group, e.g. ``presets("upsampler")``."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml") if not p.stem.startswith("_"))


def load_preset(group: str, name: str) -> DictConfig:
    """One option of a config group as a config, e.g. ``load_preset("upsampler", "transposed")``."""
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown {group} {name!r}; choose one of {presets(group)}")
    return OmegaConf.load(path)


#: Config groups whose default is null in train.yaml: ``+group=x`` and ``group=x`` mean the same.
OPTIONAL_GROUPS = ("experiment", "debug")


def plain_optional(override: str) -> str:
    """``+experiment=quick`` -> ``experiment=quick`` (``OPTIONAL_GROUPS`` are in the defaults list)."""
    if override.startswith("+") and not override.startswith("++") and override_key(override) in OPTIONAL_GROUPS:
        return override[1:]
    return override


def compose(*overrides: str) -> DictConfig:
    """The composed ``train.yaml`` with ``overrides``, without running Hydra (tests, benchmarks, analyze)."""
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from gan.plugins import register_plugins

    register_plugins()
    if GlobalHydra.instance().is_initialized():  # inside a running Hydra app: compose there
        return hydra_compose("train", overrides=[plain_optional(o) for o in overrides])
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose("train", overrides=[plain_optional(o) for o in overrides])


def short_name(text: str, limit: int = 160) -> str:
    """``text`` if it fits in ``limit`` characters, else its head plus a hash of the whole: a
    readable, unique, filesystem-safe folder name however many overrides there are."""
    text = text.replace("/", "_") or "default"
    if len(text) <= limit:
        return text
    return f"{text[:limit - 9]}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def short_keys(overrides: list[str]) -> list[str]:
    """``generator.upsample_layers=last`` -> ``upsample_layers=last``: each dotted key cut to its
    shortest tail that no other override's key shares."""
    keys = [override_key(o) for o in overrides]
    out = []
    for o, key in zip(overrides, keys):
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if sum(k == tail or k.endswith("." + tail) for k in keys) == 1:
                break
        out.append(tail + o[len(o.split("=", 1)[0]):] if "=" in o else o)
    return out


def override_key(override: str) -> str:
    """``"+experiment=quick"`` -> ``"experiment"``; ``"~a.b"`` -> ``"a.b"``."""
    return override.split("=", 1)[0].lstrip("+~")


def named_overrides(overrides: Iterable[str]) -> list[str]:
    """The overrides that say what a run computes, ``key=value`` as typed (minus ``+``), sorted by key."""
    kept = [o.lstrip("+") for o in overrides
            if not any(override_key(o) == k or override_key(o).startswith(k + ".") for k in UNNAMED_KEYS)]
    return sorted(kept, key=override_key)


def run_name(overrides: Iterable[str], lead: str | None = None) -> str:
    """A folder name from a run's overrides: ``resize_nearest,seed=1``. ``lead`` (a single run's
    upsampler choice) comes first by its name alone, as does an experiment preset in a sweep name
    (``quick,seed=0,1``); ``default`` when nothing is left."""
    kept = named_overrides(overrides)
    leads = [lead] if lead else []
    leads += [o.split("=", 1)[1] for o in kept if override_key(o) == "experiment"]
    rest = [o for o in kept if override_key(o) not in ("experiment", "upsampler" if lead else "")]
    return short_name(",".join(leads + short_keys(rest)))


def flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> ``{"a.b.c": value}``; values other than bool/int/float/str become strings."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        else:
            out[key] = str(v)
    return out


OmegaConf.register_new_resolver("run_name", lambda overrides, lead=None: run_name(overrides, lead), replace=True)
OmegaConf.register_new_resolver("short", short_name, replace=True)
