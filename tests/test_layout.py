"""The folders of ``gan/`` are layers, and imports run downward only: a package imports its own
modules and the packages below it, never one above it nor the entry points at the top of ``gan/``."""
import ast
from pathlib import Path

import pytest

from gan.core.config import current_target, load_preset
from gan.run.rundir import RunDir

GAN = Path(__file__).resolve().parent.parent / "gan"
ROOT = GAN.parent
#: bottom to top
LAYERS = ("core", "data", "model", "measure", "run", "study")


def project_imports(path: Path) -> set[str]:
    """Every ``gan...`` module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "gan"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gan":
            found |= {f"{node.module}.{a.name}" for a in node.names} if node.module == "gan" else {node.module}
    return found


def layer_of(module: str) -> int | None:
    """The layer a module ``gan.PKG...`` lies in; None for the entry points at the top of ``gan/``."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_of_the_library_lies_in_a_layer_or_is_an_entry_point():
    packages = {p.name for p in GAN.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)
    entry_points = {p.stem for p in GAN.glob("*.py")} - {"__init__"}
    assert entry_points == {"analyze", "archive", "summarize", "build", "app"}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_itself_and_the_layers_below(layer):
    upward = []
    for path in sorted((GAN / layer).glob("*.py")):
        for module in project_imports(path):
            target = layer_of(module)
            if target is None or target > LAYERS.index(layer):
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not upward, "\n".join(upward)


def test_the_checker_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from gan.study.stats import welch\n    from gan import summarize\n")
    assert project_imports(module) == {"gan.study.stats", "gan.summarize"}
    assert layer_of("gan.study.stats") == LAYERS.index("study") and layer_of("gan.summarize") is None


def test_a_run_saved_before_the_packages_reads_with_todays_targets():
    """results/ holds runs whose config names ``gan.upsamplers.TransposedConv``, ``gan.data.deadleaves``:
    read back, they name the classes of today's presets, so they resume and group as the same runs."""
    run = RunDir(next((ROOT / "results" / "confirm").glob("*upsampler=pixel_shuffle_icnr")))
    saved = run.config()
    assert saved.upsampler._target_ == load_preset("upsampler", "pixel_shuffle_icnr")._target_
    assert saved.data._target_ == load_preset("data", "deadleaves")._target_
    assert saved.generator._target_ == load_preset("generator", "dcgan")._target_
    assert current_target("gan.data.folder") == load_preset("data", "folder")._target_
    assert current_target("mypackage.Upsampler") == "mypackage.Upsampler"
