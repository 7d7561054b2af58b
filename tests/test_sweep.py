"""Hydra multirun sweeps, launched as users launch them, then summarised."""
import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gan.measure import names as N
from gan import summarize
from gan.app import register_plugins
from gan.core.config import CONF_DIR, flatten, plain_optional
from gan.run.training import train
from gan.run.validate import validate
from tests.conftest import ROOT, TINY, cli, compose_config

SWEEP = [*TINY, "train.steps=2", "eval.figures=false", "data.num_images=32"]


def multirun(sweep_dir: Path, *overrides: str, timeout: int = 600, process: bool = False):
    """``python train.py -m`` with the tiny sweep settings: in this process (the basic launcher runs
    its jobs here), or in a new one (``process``: launchers that start processes of their own)."""
    args = ["-m", *SWEEP, f"hydra.sweep.dir={sweep_dir}", *overrides]
    if not process:
        return cli(ROOT, *args)
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def summary_rows(sweep_dir: Path) -> dict[str, dict[str, str]]:
    assert summarize.main([str(sweep_dir)]) == 0
    rows = list(csv.DictReader((sweep_dir / "summary.csv").open()))
    return {r["choice.upsampler"]: r for r in rows}


def check_two_by_two(sweep_dir: Path) -> None:
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir())
    assert [p.name for p in jobs] == ["0_upsampler=transposed,seed=0", "1_upsampler=transposed,seed=1",
                                      "2_upsampler=resize_nearest,seed=0", "3_upsampler=resize_nearest,seed=1"]
    for job in jobs:
        assert (job / "metrics.jsonl").is_file() and (job / "checkpoints" / "last.pt").is_file()
        assert any(f.name.startswith("events.out.tfevents") for f in job.iterdir())
    rows = summary_rows(sweep_dir)
    assert set(rows) == {"transposed", "resize_nearest"}  # grouped by the preset name, not its fields
    for r in rows.values():
        assert r["n"] == "2" and r["seeds"] == "0 1"
        lo, hi = float(r[f"{N.HEADLINE} ci_low"]), float(r[f"{N.HEADLINE} ci_high"])
        assert math.isfinite(lo) and math.isfinite(hi) and lo <= float(r[N.HEADLINE]) <= hi


def test_basic_launcher_sweep_and_summary(tmp_path):
    out = multirun(tmp_path / "sweep", "upsampler=transposed,resize_nearest", "seed=0,1")
    assert out.returncode == 0, out.stderr[-3000:]
    check_two_by_two(tmp_path / "sweep")


def test_failed_job_is_listed_while_the_others_are_summarised(tmp_path):
    # lr_g=1e38 overflows the generator's weights within two steps: those jobs diverge
    out = multirun(tmp_path / "sweep", "train.lr_g=2e-4,1e38", "seed=0,1")
    assert out.returncode == 3  # the exit code of a diverged single run
    failed = [line for line in out.stderr.splitlines() if line.startswith("error: job")]
    assert len(failed) == 2 and all("TrainingDiverged" in line and "lr_g=1e+38" in line for line in failed)
    assert "Traceback" not in out.stderr
    jobs = sorted((tmp_path / "sweep").iterdir())
    assert len([j for j in jobs if j.is_dir()]) == 4  # every job ran
    assert summarize.main([str(tmp_path / "sweep")]) == 0
    rows = list(csv.DictReader((tmp_path / "sweep" / "summary.csv").open()))
    by = {r["train.lr_g"]: r for r in rows}
    assert by["0.0002"]["n"] == "2"
    assert by["1e+38"]["n"] == "0" and by["1e+38"]["not finished"].count("diverged") == 2


def test_joblib_launcher_runs_jobs_in_parallel(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    out = multirun(tmp_path / "sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                   "upsampler=transposed,resize_nearest", "seed=0,1", process=True)
    assert out.returncode == 0, out.stderr[-3000:]
    check_two_by_two(tmp_path / "sweep")


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    out = multirun(tmp_path / "sweep", "hydra/launcher=submitit_local", "upsampler=transposed,resize_nearest",
                   "seed=0,1", timeout=900, process=True)
    assert out.returncode == 0, out.stderr[-3000:]
    check_two_by_two(tmp_path / "sweep")


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")))
def test_experiment_presets_compose(name):
    """``experiment=NAME`` and ``+experiment=NAME`` compose the same valid config, which carries the
    preset's own settings (after its scale) and sweeps what its file says."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf


    register_plugins()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", [f"experiment={name}"], return_hydra_config=True)
    assert plain_optional(f"+experiment={name}") == f"experiment={name}"
    task = compose_config(f"+experiment={name}")
    assert OmegaConf.to_yaml(task) == OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
    validate(task)
    preset = OmegaConf.load(ROOT / "conf" / "experiment" / f"{name}.yaml")
    own = flatten(OmegaConf.to_container(OmegaConf.masked_copy(preset, [k for k in preset if k not in ("defaults", "hydra")])))
    assert own.items() <= flatten(OmegaConf.to_container(task)).items()
    assert dict(cfg.hydra.sweeper.params) == dict(preset.hydra.sweeper.params) and cfg.hydra.mode.name == "MULTIRUN"


def test_every_job_is_checked_before_any_starts(tmp_path):
    out = multirun(tmp_path / "sweep", "upsampler=transposed,resize_nearest", "train.batch_size=8,0")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: job 1_upsampler=transposed,train.batch_size=0")
    assert "Traceback" not in out.stderr and not (tmp_path / "sweep").exists()  # not one folder


def test_names_say_what_varies_in_folders_tensorboard_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import backend_context, plugin_data_pb2
    out = multirun(tmp_path / "sweep", "upsampler=transposed,resize_nearest", "seed=0,1")
    assert out.returncode == 0, out.stderr[-3000:]
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path / "sweep"))
    mux.Reload()
    assert sorted(mux.Runs()) == ["0_upsampler=transposed,seed=0", "1_upsampler=transposed,seed=1",
                                  "2_upsampler=resize_nearest,seed=0", "3_upsampler=resize_nearest,seed=1"]
    for run in mux.Runs():
        meta = mux.SummaryMetadata(run, "_hparams_/session_start_info")
        info = plugin_data_pb2.HParamsPluginData.FromString(meta.plugin_data.content).session_start_info
        hp = {k: v.string_value or v.number_value for k, v in info.hparams.items()}
        assert hp["Upsampler"] == run.split("=")[1].split(",")[0] and hp["data"] == "deadleaves"
        assert hp["seed"] == int(run[-1]) and not any(k.startswith("_") or "_target_" in k for k in hp)
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            mux.SummaryMetadata(run, "_hparams_/experiment").plugin_data.content).experiment
        backend_context._sort_and_reduce_to_hparams_limit(experiment)  # what the HParams tab does
        assert experiment.hparam_infos[0].name == "Upsampler"  # the first column
        assert {"image_size", "ngf", "ndf", "steps", "batch_size", "lr_g", "upsample_layers"} <= set(hp)
        layout = mux.SummaryMetadata(run, "custom_scalars__config__") if "custom_scalars__config__" in \
            mux.GetAccumulator(run).Tags()["tensors"] else None
        assert layout is not None  # the comparison charts of the Custom Scalars tab
        steps = {e.step for e in mux.Scalars(run, f"final/{N.HEADLINE}")}
        assert steps == {2}  # final numbers at the final step, not at step 0


DATA = ["deadleaves", "mnist", "folder", "strokes"]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))


def one_job(preset: str, data: str, roots: dict[str, list[str]]) -> list[str]:
    """The overrides that make ``preset`` on ``data`` one tiny job."""
    return ([f"data={data}", *roots.get(data, []), "upsampler=transposed", "seed=0"]
            + (["upsampler.kernel_size=4"] if preset == "kernel_stride" else []))


@pytest.fixture(scope="module")
def data_roots(mnist_root, png_folder) -> dict[str, list[str]]:
    return {"mnist": [f"data.root={mnist_root}", "eval.saturation=atanh"], "folder": [f"data.root={png_folder}"]}


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("preset", EXPERIMENTS)
def test_every_preset_trains_on_every_kind_of_data(tmp_path, preset, data, data_roots):
    """The preset's config on each kind of data, made tiny, trains a job to its end (in this process)."""
    cfg = compose_config(f"+experiment={preset}", *one_job(preset, data, data_roots), "+debug=tiny", "train.steps=2",
                         "eval.figures=false", f"run_dir={tmp_path / 'job'}")
    assert train(cfg)["step"] == 2
    assert (tmp_path / "job" / "checkpoints" / "last.pt").is_file()


@pytest.mark.parametrize("preset", [pytest.param(p, marks=[] if p == "study" else [pytest.mark.slow]) for p in EXPERIMENTS])
def test_every_preset_sweeps_with_its_own_launcher(tmp_path, preset, data_roots):
    """``python train.py -m experiment=PRESET`` as a user types it, with the preset's own launcher
    (joblib for most), one tiny job on one kind of data (each kind in turn), then summarised."""
    data = DATA[EXPERIMENTS.index(preset) % len(DATA)]
    cmd = [sys.executable, "train.py", "-m", f"+experiment={preset}", *one_job(preset, data, data_roots),
           "+debug=tiny", "train.steps=2", "eval.figures=false", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (job,) = [p for p in (tmp_path / "sweep").iterdir() if p.is_dir()]
    assert summarize.main([str(tmp_path / "sweep")]) == 0
    assert (job / "checkpoints" / "last.pt").is_file()


def test_pack_seeds_trains_each_upsampler_in_one_process(tmp_path):
    out = multirun(tmp_path / "sweep", "upsampler=transposed,resize_nearest", "seed=0,1,2",
                   "hydra.sweeper.pack_seeds=true")
    assert out.returncode == 0, out.stderr[-3000:]
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert jobs == ["0_upsampler=transposed,seeds=0-2", "1_upsampler=resize_nearest,seeds=0-2"]
    assert sorted(p.name for p in (tmp_path / "sweep" / jobs[0]).glob("seed=*")) == ["seed=0", "seed=1", "seed=2"]
    rows = summary_rows(tmp_path / "sweep")
    assert set(rows) == {"transposed", "resize_nearest"}  # grouped by the preset, as unpacked jobs are
    assert all(r["n"] == "3" and r["seeds"] == "0 1 2" for r in rows.values())
