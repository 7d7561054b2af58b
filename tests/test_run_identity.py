"""A run is what its folder says: a command that finds a folder holding a run continues it only if
every setting but the continuable ones (``gan.run.naming.CONTINUABLE_KEYS``) equals the run's saved
config; otherwise it is refused in one line, exit 2, with every record left as it was."""
import shutil

import pytest
from omegaconf import OmegaConf

from gan.core.config import flatten
from gan.core.errors import UserError
from gan.run import lifecycle
from gan.run.naming import CONTINUABLE_KEYS, UNNAMED_KEYS
from gan.run.rundir import RunDir
from gan.run.training import train
from tests.conftest import TINY, cli, compose_config
from tests.test_commands import one_error_line, snapshot


@pytest.fixture(scope="module")
def two_folders(png_folder, tmp_path_factory):
    """Two image folders of one kind: the PNGs of ``png_folder`` and a copy of half of them."""
    other = tmp_path_factory.mktemp("photos_b")
    shutil.copytree(png_folder / "part0", other / "part0")
    return png_folder, other


def test_a_second_data_folder_is_refused_and_the_first_run_is_untouched(two_folders, tmp_path):
    a, b = two_folders
    first = cli(tmp_path, "debug=tiny", "data=folder", f"data.root={a}")
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(tmp_path)
    out = cli(tmp_path, "debug=tiny", "data=folder", f"data.root={b}")
    assert out.returncode == 2
    line = one_error_line(out)
    assert "data.root" in line and str(a) in line and str(b) in line and "hydra.run.dir=" in line
    assert snapshot(tmp_path) == before
    again = cli(tmp_path, "debug=tiny", "data=folder", f"data.root={a}", "train.steps=6")  # the same run continues
    assert again.returncode == 0, again.stderr[-2000:]
    (folder,) = (tmp_path / "outputs").iterdir()
    assert max(r["step"] for r in RunDir(folder).read_metrics()) == 6


def test_a_sweep_on_another_data_folder_is_refused_before_any_job_starts(two_folders, tmp_path):
    a, b = two_folders
    sweep = tmp_path / "sweep"
    def sweep_on(root):
        return cli(tmp_path, "-m", "debug=tiny", "upsampler=transposed,resize_nearest", "data=folder",
                   f"data.root={root}", f"hydra.sweep.dir={sweep}")

    assert sweep_on(a).returncode == 0
    before = snapshot(sweep)
    out = sweep_on(b)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: job ") and "data.root" in last
    assert snapshot(sweep) == before


def _changed(value):
    """Another value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, list):
        return [*value, value[-1] if value else 0]
    return f"{value}_other" if value is not None else "other"


def test_every_setting_but_the_continuable_ones_is_compared(tmp_path):
    """Each leaf of the config changed alone: a difference exactly where the key is not continuable."""
    base = compose_config(*TINY, f"run_dir={tmp_path}")
    values = flatten(OmegaConf.to_container(base, resolve=True))
    assert len(values) > 40
    for key, value in values.items():
        cfg = base.copy()
        OmegaConf.update(cfg, key, _changed(value), merge=False)
        continuable = any(key == k or key.startswith(k + ".") for k in CONTINUABLE_KEYS)  # independent of among()
        found = [k for k, _, _ in lifecycle.differences(base, cfg)]
        assert found == ([] if continuable else [key]), key


def test_only_the_data_folder_is_unnamed_and_still_compared():
    assert set(UNNAMED_KEYS) - set(CONTINUABLE_KEYS) == {"data.root"}


def test_the_same_folder_is_the_same_path_however_it_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    saved = compose_config(*TINY, "data=folder", f"data.root={tmp_path / 'photos'}")
    assert lifecycle.differences(saved, compose_config(*TINY, "data=folder", "data.root=photos")) == []
    assert lifecycle.differences(saved, compose_config(*TINY, "data=folder", "data.root=./photos/")) == []


def test_a_packed_job_is_compared_with_its_seeds_config(tmp_path):
    job = tmp_path / "job"
    cfg = compose_config(*TINY, f"run_dir={job}", "num_seeds=2", "train.steps=2")
    train(cfg)
    assert not RunDir(job).config_file.exists() and len(RunDir(job).replica_dirs()) == 2
    lifecycle.accept(compose_config(*TINY, f"run_dir={job}", "num_seeds=2", "train.steps=4"), RunDir(job))
    for other in ("train.lr_g=0.001", "num_seeds=3", "seed=1"):
        with pytest.raises(UserError, match=other.split("=")[0]):
            lifecycle.accept(compose_config(*TINY, f"run_dir={job}", "num_seeds=2", other), RunDir(job))
