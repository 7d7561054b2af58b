"""Checks of a composed config before anything heavy starts.

``validate(cfg)`` raises ``ConfigError`` with one line that names the key and what is allowed.
Every leaf is checked: the root settings by ``RULES``; the options of the groups that are built by
``instantiate`` (``data``, ``upsampler``, ``generator``, ``discriminator``) against the signature of
their ``_target_``, so a new preset is checked without new code; a key that no rule or signature
knows is an error (a typo). Then the settings that depend on each other, and a tiny build of the
upsampler. The allowed values come from the modules that implement them.
"""
from __future__ import annotations

import collections.abc
import inspect
import math
import types
import typing
from typing import Any, Callable, Iterable

import torch
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from gan.core.config import flatten
from gan.core.errors import ConfigError
from gan.core.runtime import AMP_CHOICES, COMPILE_MODES
from gan.data.files import unavailable
from gan.measure import metrics
from gan.measure import names as N
from gan.measure.spectral import BOUNDARIES, CHANNEL_MODES, SATURATION_TREATMENTS, WINDOWS
from gan.model import build
from gan.model.losses import LOSSES
from gan.model.networks import DOWNSAMPLERS, UPSAMPLE_LAYERS

__all__ = ["ConfigError", "RULES", "GROUPS", "validate"]

#: A rule returns None for a good value, else what is allowed.
Rule = Callable[[Any], "str | None"]
MISSING = "???"


def integer(minimum: int | None = None) -> Rule:
    def rule(v: Any) -> str | None:
        ok = isinstance(v, int) and not isinstance(v, bool) and (minimum is None or v >= minimum)
        return None if ok else ("must be an integer" + (f" >= {minimum}" if minimum is not None else ""))
    return rule


def number(low: float, high: float = math.inf, low_open: bool = True, high_open: bool = True) -> Rule:
    def rule(v: Any) -> str | None:
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
              and (v > low if low_open else v >= low) and (v < high if high_open else v <= high))
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        return None if ok else f"must be a number in {lo}{low:g}, {high:g}{hi}"
    return rule


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def text(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "must be a non-empty string (quote numbers: key='2024')"


def choice(options: Iterable[str]) -> Rule:
    options = tuple(options)
    return lambda v: None if v in options else f"choose one of {', '.join(options)}"


def optional(rule: Rule) -> Rule:
    return lambda v: None if v is None else (None if rule(v) is None else f"{rule(v)}, or null")


def betas(v: Any) -> str | None:
    ok = (isinstance(v, list) and len(v) == 2
          and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in v))
    return None if ok else "must be two numbers in [0, 1)"


def image_size(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and v >= 8 and v & (v - 1) == 0
    return None if ok else "must be a power of two >= 8 (8, 16, 32, 64, 128, ...)"


def device(v: Any) -> str | None:
    if not isinstance(v, str):
        return "use auto, cpu, cuda, cuda:N or mps"
    if v == "auto":
        return None
    try:
        dev = torch.device(v)
    except RuntimeError:
        return "use auto, cpu, cuda, cuda:N or mps"
    if dev.type == "cuda" and not torch.cuda.is_available():
        return "CUDA is not available here (use device=auto or cpu)"
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        return "MPS is not available here (use device=auto or cpu)"
    return None


def metric_name(v: Any) -> str | None:
    return None if isinstance(v, str) and metrics.find(v) else "must be a metric name (see gan/measure/metrics.py), e.g. " \
        f"{N.HEADLINE}"


#: Every root setting and what it allows.
RULES: dict[str, Rule] = {
    "seed": integer(),
    "num_seeds": integer(1),
    "image_size": image_size,
    "device": device,
    "deterministic": boolean,
    "threads": optional(integer(1)),
    "run_dir": optional(text),
    "objective": optional(metric_name),
    "paths.runs": text,
    "paths.sweeps": text,
    "train.steps": integer(1),
    "train.batch_size": integer(1),
    "train.loss": choice(LOSSES),
    "train.lr_g": number(0),
    "train.lr_d": number(0),
    "train.betas": betas,
    "train.ema": number(0, 1, low_open=False),
    "train.log_every": integer(1),
    "train.ckpt_every": integer(1),
    "train.num_workers": integer(0),
    "train.resume": boolean,
    "train.progress": boolean,
    "train.amp": choice(AMP_CHOICES),
    "train.channels_last": boolean,
    "train.compile": choice(COMPILE_MODES),
    "eval.every": integer(1),
    "eval.headline_window": number(0, 1, low_open=False, high_open=False),
    "eval.generator": choice(N.GENERATORS),
    "eval.num_samples": integer(8),
    "eval.grid_size": integer(1),
    "eval.num_real": integer(1),
    "eval.window": choice(WINDOWS),
    "eval.channels": choice(CHANNEL_MODES),
    "eval.residual": boolean,
    "eval.boundary": choice(BOUNDARIES),
    "eval.saturation": choice(SATURATION_TREATMENTS),
    "eval.f_min": number(0, 0.5, low_open=False),
    "eval.figures": boolean,
    "eval.stages": boolean,
    "eval.detail": boolean,
    "eval.figures_every": integer(1),
    "eval.swd": boolean,
    "eval.swd_patches": integer(1),
    "eval.swd_dirs": integer(1),
    "eval.detector_images": integer(32),
    "eval.fid": boolean,
    "eval.detectors": boolean,
    "eval.fid_weights": optional(text),
    # group options with limits beyond their type (the type comes from the _target_'s signature)
    "generator.ngf": integer(1),
    "generator.z_dim": integer(1),
    "generator.upsample_layers": choice(UPSAMPLE_LAYERS),
    "discriminator.ndf": integer(1),
    "discriminator.downsample": choice(DOWNSAMPLERS),
    "data.channels": lambda v: None if v in (1, 3) else "must be 1 or 3",
    "data.num_images": integer(1),
}

#: Config groups whose options are arguments of their ``_target_``.
GROUPS = ("data", "upsampler", "generator", "discriminator")
#: Arguments that training passes when it builds a group (not settings in the config).
RUNTIME_ARGUMENTS = ("image_size", "in_channels", "out_channels", "upsampler")


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` for the first unusable value in ``cfg``."""
    try:
        values = flatten(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))
    except Exception as e:  # noqa: BLE001 - an interpolation that cannot resolve
        raise ConfigError(f"the config does not resolve: {e}".splitlines()[0]) from e
    for key, value in values.items():
        if value == MISSING:
            raise ConfigError(f"{key} must be set (for example {key}=...)")
    targets = {group: _target_parameters(group, values) for group in GROUPS}
    for key, value in values.items():
        group = key.split(".", 1)[0]
        if key in RULES:
            problem = RULES[key](value)
            if problem:
                _fail(key, value, problem)
        if group in targets:
            _check_group_option(key, value, *targets[group])
        elif key not in RULES:
            raise ConfigError(f"{key} is not a setting (a typo?); the settings of {group or 'the root'}: "
                              f"{', '.join(sorted(k for k in RULES if k.startswith(group + '.')) or sorted(RULES))}")
    problem = unavailable({k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("data.")})
    if problem:
        raise ConfigError(problem)
    if values["num_seeds"] > 1 and values["train.amp"] == "fp16":
        _fail("train.amp", "fp16", "one loss scale would couple the packed seeds (a skipped step skips all): "
              "use bf16, or num_seeds=1")
    if values["num_seeds"] > 1 and values["train.channels_last"]:
        _fail("train.channels_last", True, "applies to num_seeds=1 (packed seeds are 5-D tensors)")
    if values["eval.generator"] == "ema" and not values["train.ema"] > 0:
        _fail("eval.generator", "ema", "needs the weight average: set train.ema (e.g. 0.998)")
    if values["eval.grid_size"] > values["eval.num_samples"]:
        _fail("eval.grid_size", values["eval.grid_size"], f"must be <= eval.num_samples={values['eval.num_samples']}")
    _check_upsampler(cfg)


def _target_parameters(group: str, values: dict[str, Any]) -> tuple[str, dict[str, inspect.Parameter], dict[str, Any]]:
    """``(target name, its parameters, their type hints)`` of a group built by instantiate."""
    target = values.get(f"{group}._target_")
    if not isinstance(target, str) or not target:
        _fail(f"{group}._target_", target, "must name a class or function (module.Name)")
    try:
        obj = get_object(target)
    except Exception:  # noqa: BLE001
        _fail(f"{group}._target_", target, "cannot be imported")
    partial = values.get(f"{group}._partial_", False)
    if not isinstance(partial, bool):
        _fail(f"{group}._partial_", partial, "must be true or false")
    fn = obj.__init__ if inspect.isclass(obj) else obj
    return target, dict(inspect.signature(obj).parameters), typing.get_type_hints(fn)


def _check_group_option(key: str, value: Any, target: str, params: dict[str, inspect.Parameter],
                        hints: dict[str, Any]) -> None:
    name = key.split(".", 1)[1]
    if name in ("_target_", "_partial_"):
        return
    if name not in params:
        settings = ", ".join(p for p in params if p not in RUNTIME_ARGUMENTS)
        raise ConfigError(f"{key} is not a setting of {target} (its settings: {settings})")
    hint = hints.get(name)
    if hint is not None and not _matches(value, hint):
        _fail(key, value, f"must be {_describe(hint)}")


def _matches(value: Any, hint: Any) -> bool:
    """Does a config value (from ``to_container``) fit a type hint?"""
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (collections.abc.Sequence, list, tuple):
        args = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value) if args else isinstance(value, list)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint we do not check (callables, ...)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) in (collections.abc.Sequence, list, tuple):
        args = typing.get_args(hint)
        return f"a list of {_describe(args[0])}" if args else "a list"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def _check_upsampler(cfg: DictConfig) -> None:
    """Build the chosen upsampler on a tiny input: it must exist and give exactly 2H x 2W."""
    try:
        up = build.upsampler(cfg.upsampler, 2, 2)
        y = up(torch.zeros(1, 2, 3, 5))
    except Exception as e:  # noqa: BLE001 - any failure here is a config problem
        raise ConfigError(f"upsampler: {e}") from e
    if tuple(y.shape[-2:]) != (6, 10):
        settings = {k: v for k, v in cfg.upsampler.items() if not k.startswith("_")}
        raise ConfigError(f"upsampler settings {settings} map 3x5 to {y.shape[-2]}x{y.shape[-1]}, not 6x10")
