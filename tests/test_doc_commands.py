"""Every command the README and the docs give runs as written, up to the point where it would start
work: ``train.py``'s overrides pass the same checks as on the command line (every group option, every
setting of the composed config, each sweep's first job), and every script's and module's flags parse
with its own argument parser."""
import argparse
import importlib
import importlib.util
import re
import shlex
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from torchvision.utils import save_image

from gan.app import compose
from gan.core.config import presets
from gan.run import cli
from gan.run.validate import validate
from tests.conftest import ROOT
from tests.test_docs import TEXT

COMMAND = re.compile(r"python3? (?P<prog>-m gan\.\w+|train\.py|experiments/[\w/]+\.py)(?P<args>(?: +[^\s#]+)*)")


def doc_commands() -> list[tuple[str, str, list[str]]]:
    """(file, program, arguments) of every command in a code block or an inline code span of the docs."""
    found = set()
    for name, text in TEXT.items():
        text = text.replace("\\\n", " ")
        spans = re.findall(r"```[a-z]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
        for line in (line for span in spans for line in span.splitlines()):
            for m in COMMAND.finditer(line.split(" # ")[0]):
                found.add((name, m["prog"], m["args"].strip()))
    # the shell expands a ~ after the = of an argument (data.root=~/data)
    return sorted((f, prog, [re.sub(r"=~/", f"={Path.home()}/", a) for a in shlex.split(args)]) for f, prog, args in found)


COMMANDS = [c for c in doc_commands() if c[2] or not c[1].startswith("-m ")]  # a bare module: its name in prose


def on_this_machine(overrides: list[str], tmp_path: Path) -> list[str]:
    """The overrides a reader would type here: a GPU command on the CPU, a placeholder folder
    (``/path/to/images``) or one this machine lacks (the shared photos of a fresh clone) as one
    holding an image."""
    out = []
    for o in overrides:
        if o == "device=cuda":
            o = "device=cpu"
        elif o.startswith("data.root=") and not Path(o.split("=", 1)[1]).expanduser().is_dir():
            (tmp_path / "images").mkdir(exist_ok=True)
            save_image(torch.rand(3, 32, 32), tmp_path / "images" / "0.png")
            o = f"data.root={tmp_path / 'images'}"
        out.append(o)
    return out


def first_job(overrides: list[str]) -> list[str]:
    """A sweep's overrides with each swept value replaced by its first one (``glob`` as Hydra reads
    it: the group's presets that match, sorted)."""
    out = []
    for o in overrides:
        (parsed,) = OverridesParser.create().parse_overrides([o])
        if parsed.is_sweep_override():
            key = parsed.get_key_element()
            if parsed.value_type.name == "GLOB_CHOICE_SWEEP":
                glob = parsed.value()
                value = next(p for p in presets(key.lstrip("+~")) if any(fnmatch(p, g) for g in glob.include))
            else:
                value = next(iter(parsed.sweep_string_iterator()))
            o = f"{key}={value}"
        out.append(o)
    return out


class Parsed(Exception):
    """Raised by the patched parser once the arguments are parsed: nothing after it runs."""


def test_the_docs_give_commands_of_every_kind():
    programs = {prog for _, prog, _ in COMMANDS}
    assert {"train.py", "-m gan.summarize", "-m gan.analyze", "experiments/reproduce.py"} <= programs, programs
    assert len(COMMANDS) >= 25


@pytest.mark.parametrize("doc,prog,args", [c for c in COMMANDS if c[1] == "train.py"],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_every_training_command_composes_and_validates(doc, prog, args, tmp_path):
    overrides = [a for a in cli.normalize(args) if a != "-m" and not a.startswith("hydra.")]
    validate(compose(*first_job(on_this_machine(overrides, tmp_path))))


@pytest.mark.parametrize("doc,prog,args", [c for c in COMMANDS if c[1] != "train.py"],
                         ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_every_script_command_parses(doc, prog, args, monkeypatch, tmp_path):
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, argv=None, namespace=None):
        raise Parsed(original(self, argv, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
    if prog.startswith("-m "):
        module = importlib.import_module(prog[3:])
    else:
        path = ROOT / prog
        assert path.exists(), f"{doc}: {prog} does not exist"
        monkeypatch.syspath_prepend(str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [prog, *args])
    try:
        module.main(args) if module.main.__code__.co_argcount else module.main()
    except SystemExit as e:  # argparse's error: an unknown flag or a bad value
        pytest.fail(f"{doc}: `python {prog} {shlex.join(args)}` does not parse (exit {e.code})")
    except Parsed as parsed:
        overrides = getattr(parsed.args[0], "overrides", None)
        if overrides:  # a benchmark's Hydra overrides compose like train.py's
            hydra = [o for o in overrides if not o.startswith("hydra.")]
            validate(compose(*first_job(on_this_machine(hydra, tmp_path))))
    else:
        pytest.fail(f"{prog} never parsed its arguments")
