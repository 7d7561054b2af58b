"""Command-line overrides of ``train.py``, checked before Hydra sees them.

``normalize(argv)`` accepts ``+experiment=quick`` and ``experiment=quick`` alike (and the same for
``debug``), and refuses with one line (Hydra's own messages are several lines long and exit with
code 1): a config-group option that does not exist (naming the closest valid one), an override
that does not parse, and a comma list in a single run (which Hydra reads as a sweep).
"""
from __future__ import annotations

import difflib

from hydra.core.override_parser.overrides_parser import OverridesParser

from gan.core.config import CONF_DIR, plain_optional, presets
from gan.core.errors import ConfigError


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


def parse(arg: str):
    """Hydra's parse of one override, or ``ConfigError`` in one line that says how to quote it."""
    key, _, value = arg.partition("=")
    try:
        (override,) = OverridesParser.create().parse_overrides([arg])
    except Exception as e:  # noqa: BLE001 - Hydra's syntax errors are several lines long
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"{arg}: cannot read this override ({why}); quote a value that holds , [ ] {{ }} ( ) or "
                          f"spaces, e.g. '{key}=\"{value}\"'") from e
    return override


def normalize(argv: list[str]) -> list[str]:
    """``argv`` with ``+experiment=``/``+debug=`` as ``experiment=``/``debug=``; every override parsed
    (``parse``), every option of a config group checked (each value of a comma list; glob(...) and
    other sweeps are left to Hydra), and a comma list refused in a single run (no ``-m`` and no
    experiment, whose presets may be sweeps)."""
    out = []
    known = groups()
    single = not any(a in ("-m", "--multirun") for a in argv) and not any(
        a.lstrip("+").startswith("experiment=") for a in argv)
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            out.append(arg)
            continue
        arg = plain_optional(arg)
        override = parse(arg)
        key, _, value = arg.partition("=")
        if single and override.is_sweep_override():
            raise ConfigError(f"{arg}: a comma list is a sweep; add -m to run each value, or quote the value to keep "
                              f"its commas: '{key}=\"{value}\"'")
        group = key.lstrip("+~")
        if group in known:
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
