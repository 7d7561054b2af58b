"""Adding a metric is one function and one registry line: a new entry of ``gan.measure.metrics.REGISTRY``
is logged by training, tabled by ``gan.summarize`` and printed by ``gan.analyze`` with no other
change."""
import json

import pytest

from gan import analyze, summarize
from gan.measure import metrics as M
from gan.measure import spectral
from gan.run import records as R
from gan.run.rundir import RunDir
from gan.run.training import train
from tests.conftest import TINY, compose_config

NAME = "spectral/corner_share"


def _corner_share(f, r, p, f_min):
    return float(spectral.corner_power(f.mean_power) / f.mean_power.sum())


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(M, "REGISTRY", M.REGISTRY + (M.Metric(NAME, "share of the power in the corner bin", True,
                                                               fn=_corner_share),))
    M.find.cache_clear()
    yield
    M.find.cache_clear()


def test_a_registered_metric_reaches_tensorboard_summarize_and_analyze(registered, tmp_path, capsys):
    run = tmp_path / "sweep" / "0_run"
    train(compose_config(*TINY, f"run_dir={run}"))
    records = RunDir(run).read_metrics()
    assert all(0 < r[NAME] < 1 for r in records if R.is_evaluation(r))
    assert summarize.main([str(tmp_path / "sweep"), "--metrics", NAME]) == 0
    assert NAME in (tmp_path / "sweep" / "summary.md").read_text()
    assert analyze.main([str(run), "--num-samples", "16", "--out", str(tmp_path / "an")]) == 0
    assert NAME in json.loads((tmp_path / "an" / "metrics.json").read_text())["metrics"]
    assert NAME in capsys.readouterr().out
