"""Folder names of runs and sweep jobs, made from the overrides that say what a run computes.

* A single run: ``outputs/resize_nearest,seed=1`` (``run_name``, the ``${run_name:...}`` resolver of
  ``conf/train.yaml``); a sweep: ``multirun/quick`` (the same, without a lead).
* A sweep job: ``3_upsampler=resize_nearest,seed=1`` (``job_name``): the job number, then what
  varies between the jobs.

Settings that do not name a run (``UNNAMED_KEYS``) never appear in a name, so rerunning a command
with more steps or other evaluation settings finds the same folder and continues its run. Of
those, only ``CONTINUABLE_KEYS`` may differ from the run's saved config; the data folder may not
(``gan.run.lifecycle.accept`` refuses a command that finds a run of other data). Where those folders
are is ``gan.run.rundir.RunDir``'s business.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

from omegaconf import OmegaConf

from gan.core.config import override_key, override_value, value_of

#: Overrides that never appear in run or sweep names. Raising ``train.steps`` or changing how a run is
#: evaluated, logged or checkpointed continues it; a data folder is not named (paths make poor folder
#: names) but is compared with the run's saved one (``CONTINUABLE_KEYS``).
UNNAMED_KEYS = ("hydra", "paths", "run_dir", "device", "threads", "train.steps", "train.progress", "train.log_every",
                "train.ckpt_every", "train.num_workers", "train.resume", "eval", "data.root", "data.download",
                "resume")
#: Of the unnamed settings, those a command may change when it continues a run: how long it trains and
#: how it is evaluated, logged, checkpointed, where and on what hardware. Every other setting, the
#: data folder (``data.root``) included, is part of what the run is: it is stored with the run and a
#: command that finds the folder with another value is refused (``gan.run.lifecycle.accept``).
CONTINUABLE_KEYS = tuple(k for k in UNNAMED_KEYS if k != "data.root")
#: Settings that hold a path: compared as the absolute path they point to.
PATH_KEYS = ("data.root",)
#: A packed job's seeds in its name: ``seeds=0-3``.
SEEDS_KEY = "seeds"


def among(key: str, settings: Iterable[str]) -> bool:
    """Whether the dotted ``key`` is one of ``settings`` or lies under one (``eval.every`` under ``eval``)."""
    return any(key == s or key.startswith(s + ".") for s in settings)


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


def named_overrides(overrides: Iterable[str]) -> list[str]:
    """The overrides that say what a run computes, ``key=value`` as typed (minus ``+``), sorted by key."""
    kept = [o.lstrip("+") for o in overrides
            if not among(override_key(o), UNNAMED_KEYS)]
    return sorted(kept, key=override_key)


def run_name(overrides: Iterable[str], lead: str | None = None) -> str:
    """A folder name from a run's overrides: ``resize_nearest,seed=1``. ``lead`` (a single run's
    upsampler choice) comes first by its name alone, as does an experiment preset in a sweep name
    (``quick,seed=0,1``); ``default`` when nothing is left."""
    kept = named_overrides(overrides)
    leads = [lead] if lead else []
    leads += [override_value(o) for o in kept if override_key(o) == "experiment"]
    rest = [o for o in kept if override_key(o) not in ("experiment", "upsampler" if lead else "")]
    return short_name(",".join(leads + short_keys(rest)))


def job_name(num: int, overrides: Sequence[str], swept: Sequence[str]) -> str:
    """``3_upsampler=resize_nearest,seed=1``: the job number, then the swept overrides (a packed
    job's seeds as ``seeds=0-3``); shortened with a hash after them only if too long for a folder."""
    kept = [o.lstrip("+") for o in overrides if override_key(o) in swept and override_key(o) != "num_seeds"]
    count = int(value_of(overrides, "num_seeds", "1"))
    if count > 1:
        first = int(value_of(overrides, "seed", "0"))
        kept = [o for o in kept if override_key(o) != "seed"] + [f"{SEEDS_KEY}={first}-{first + count - 1}"]
    return short_name(",".join([str(num), *kept]).replace(",", "_", 1), limit=120)


#: ``hydra.run.dir`` and ``hydra.sweep.dir`` in ``conf/train.yaml`` are ``${paths.runs}/${run_name:...}``.
OmegaConf.register_new_resolver("run_name", lambda overrides, lead=None: run_name(overrides, lead), replace=True)
