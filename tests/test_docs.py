"""The docs say what the code does: every metric name, setting and default they quote, the modules of
the layout, the presets and the tolerances they state are read from the code here."""
import re

import pytest
from omegaconf import OmegaConf

from gan.core.config import load_preset, presets
from gan.measure import metrics as M
from gan.measure import names as N
from gan.run.rundir import SAMPLES
from gan.study.sweeps import plan
from tests.conftest import ROOT, compose_config
from tests.test_packed import REPLICA_ATOL

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
TEXT = {p.name: p.read_text() for p in DOCS}
GROUPS = ("data", "upsampler", "generator", "discriminator", "train", "eval", "paths")


def quoted() -> list[tuple[str, str]]:
    """(file, text) of every `...` span of the docs."""
    return [(name, m) for name, text in TEXT.items() for m in re.findall(r"`([^`\n]+)`", text)]


def concrete(name: str) -> str:
    """A metric name as the docs write it (``phase_depth/pP``, ``stageI/...``, ``NAME``) made concrete."""
    return name.replace("{p}", "2").replace("/pP", "/p2").replace("stageI/", "stage0/").replace("stage{i}", "stage0")


METRIC = re.compile(r"(ema/|last/|final/|stage(I|\d+)/)*[a-z_]+(_excess|_real|_se|_db)*/(p(\d+|P|\{p\})|[a-z_]+)")
PATHS = ("outputs/", "multirun/", "conf/", "docs/", "gan/", "experiments/", "tests/", "analysis/", "figures/",
         "hydra/", "seed=", "train/", "spectrum/", "samples/", "checkpoints/", "data/")


def test_every_metric_name_in_the_docs_is_one_the_code_reports():
    names = [(f, q) for f, q in quoted()
             if METRIC.fullmatch(q) and not q.startswith(PATHS) and q.rsplit("/", 1)[-1] != SAMPLES]  # not an image tag
    assert len(names) > 20
    unknown = [(f, q) for f, q in names if M.find(concrete(q)) is None]
    assert unknown == []


def settings(cfg) -> set[str]:
    return set(flat_keys(OmegaConf.to_container(cfg, resolve=False)))


def flat_keys(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from flat_keys(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1]


@pytest.fixture(scope="module")
def known_settings() -> set[str]:
    """Every setting of the default config and of every preset of every group."""
    keys = settings(compose_config())
    for group in GROUPS:
        for name in presets(group):
            keys |= {f"{group}.{k}" for k in settings(load_preset(group, name))}
    return keys


#: Settings the docs quote as a typo the validation names (test_validation.py refuses each).
TYPO_EXAMPLES = {"upsampler.kernal_size", "upsampler=resize_nearst"}


def test_every_setting_the_docs_quote_exists(known_settings):
    found = []
    for f, q in quoted():
        for token in q.split():
            key = token.split("=", 1)[0].lstrip("+~")
            if "=" in token and "." in key and key.split(".", 1)[0] in GROUPS:
                found.append((f, key))
    assert len(found) >= 10
    assert [(f, k) for f, k in found if k not in known_settings | TYPO_EXAMPLES] == []


def test_every_default_the_docs_state_is_the_configs():
    """``KEY`` (default: ``VALUE``) in the docs is the composed default config's value."""
    cfg = compose_config()
    stated = [(f, k, v) for f, text in TEXT.items() for k, v in re.findall(r"`([\w.]+)` \(default:? `([^`]+)`", text)]
    assert len(stated) >= 5
    wrong = []
    for f, key, value in stated:
        actual = OmegaConf.select(cfg, key)
        if key == "objective":  # null: the headline of eval.generator
            actual = N.of_generator(N.HEADLINE, cfg.eval.generator) if actual is None else actual
        if str(actual).lower() != value.lower():
            wrong.append((f, key, value, actual))
    assert wrong == []


def test_the_layout_lists_every_module():
    block = TEXT["reference.md"].split("## Layout", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"\b([a-z_]+)\.py\b", block))
    modules = {p.stem for p in (ROOT / "gan").rglob("*.py") if p.stem != "__init__"}
    assert modules <= listed, modules - listed
    folders = ["gan", *(str(p.relative_to(ROOT)) for p in (ROOT / "gan").iterdir() if p.is_dir()), "experiments",
               "experiments/benchmarks", "hydra_plugins/gan_sweeper", "tests", "."]
    unknown = {m for m in listed if not any((ROOT / d / f"{m}.py").exists() for d in folders)}
    assert unknown == set()
    packages = {p.name for p in (ROOT / "gan").iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(re.findall(r"^  ([a-z]+)/ ", block, flags=re.M)), packages


def test_the_readme_tables_every_upsampler_preset_and_the_docs_only_real_presets():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \|", TEXT["README.md"], flags=re.M)
    assert sorted(rows) == sorted(presets("upsampler")) and len(rows) == len(set(rows))
    for f, q in quoted():
        for group in ("upsampler", "experiment", "data"):
            m = re.fullmatch(rf"\+?{group}=([a-z0-9_]+)", q)
            if m and q not in TYPO_EXAMPLES:
                assert m.group(1) in presets(group), (f, q)


def test_stated_lists_and_tolerances_are_the_codes():
    reference = TEXT["reference.md"]
    assert f"weights within {REPLICA_ATOL:g}" in reference  # tests/test_packed.py
    compares = next(line for line in reference.splitlines() if "compares every upsampler" in line)
    sentence = reference[reference.index(compares):].split("\n\n", 1)[0]
    assert all(f"`{m}`" in sentence for m in N.COMPARED), sentence


def preset_jobs(preset: str) -> list[str]:
    """The job folder names the sweep of an experiment preset makes: its sweeper params expanded in
    their order (``glob(*)``: every preset of the group, sorted, as Hydra's glob; ``range(a,b)``;
    ``a,b,c``), the last key varying fastest, named by the gan sweeper (``gan.study.sweeps.plan``)."""
    import itertools

    params = load_preset("experiment", preset).hydra.sweeper.params
    axes = []
    for key, spec in params.items():
        spec = str(spec)
        if spec == "glob(*)":
            values = presets(key)
        elif spec.startswith("range("):
            values = [str(v) for v in range(*map(int, spec[6:-1].split(",")))]
        else:
            values = spec.split(",")
        axes.append([f"{key}={v}" for v in values])
    return [job.name for job in plan([list(combo) for combo in itertools.product(*axes)])]


def test_every_job_name_the_docs_quote_is_one_its_sweep_makes():
    quoted_jobs = [(f, m) for f, text in TEXT.items() for m in re.findall(r"multirun/([a-z_]+)/(\d+_[^`\s]+)", text)]
    assert len(quoted_jobs) >= 3
    for f, (preset, job) in quoted_jobs:
        assert job in preset_jobs(preset), (f, preset, job)
