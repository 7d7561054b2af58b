"""Command-line overrides of ``train.py``, checked before Hydra sees them.

``normalize(argv)`` accepts ``+experiment=quick`` and ``experiment=quick`` alike (and the same for
``debug``), and refuses a config-group option that does not exist with one line that names the
closest valid option: Hydra's own message is several lines long and exits with code 1.
"""
from __future__ import annotations

import difflib

from hydra.core.override_parser.overrides_parser import OverridesParser

from gan.config import CONF_DIR, plain_optional, presets
from gan.errors import ConfigError


def groups() -> list[str]:
    """The config groups of ``conf/`` (``hydra/...`` groups are Hydra's)."""
    return sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name != "hydra")


def check_option(group: str, name: str) -> None:
    """Raise ``ConfigError`` unless ``name`` is an option of ``group``: the closest name and the list."""
    options = presets(group)
    if name in options:
        return
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(f"{group}={name}: no such {group}; {hint}options: {', '.join(options)}")


def normalize(argv: list[str]) -> list[str]:
    """``argv`` with ``+experiment=``/``+debug=`` as ``experiment=``/``debug=``; every option of a
    config group checked (each value of a comma list; glob(...) and other sweeps are left to Hydra)."""
    out = []
    known = groups()
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            out.append(arg)
            continue
        arg = plain_optional(arg)
        group = arg.split("=", 1)[0].lstrip("+~")
        if group in known:
            try:
                (override,) = OverridesParser.create().parse_overrides([arg])
            except Exception:  # noqa: BLE001 - Hydra reports its own syntax errors
                out.append(arg)
                continue
            if override.value_type is not None and override.value_type.name == "ELEMENT":
                values = [override.value()] if override.value() is not None else []
            elif override.value_type is not None and override.value_type.name in ("CHOICE_SWEEP", "SIMPLE_CHOICE_SWEEP"):
                values = list(override.sweep_string_iterator())
            else:
                values = []
            for value in values:
                check_option(group, str(value))
        out.append(arg)
    return out
