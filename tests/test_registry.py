"""Adding a metric is one function and one registry line: a new entry of ``gan.measure.metrics.REGISTRY``
is logged by training (metrics.jsonl and TensorBoard), tabled by ``gan.summarize`` and printed by
``gan.analyze`` with no other change, whether it reads a set's statistics (``fn``) or the images
themselves (``measure``). Every entry has its function."""
import json
import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gan import analyze, summarize
from gan.measure import metrics as M
from gan.measure import imagestats, spectral
from gan.run import records as R
from gan.run.rundir import RunDir
from gan.run.training import train
from tests.conftest import TINY, compose_config

NAME = "spectral/corner_share"
TOY = "toy/bright_share"


def _corner_share(f, r, p, f_min):
    return float(spectral.corner_power(f.mean_power) / f.mean_power.sum())


def _bright_share(evaluation, sample):
    """The share of generated values above 0.5: a toy that reads the images, not their statistics."""
    return {TOY: float((sample.images > 0.5).float().mean())}


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(M, "REGISTRY", M.REGISTRY)  # put back after the test
    M.register(M.Metric(NAME, "share of the power in the corner bin", True, fn=_corner_share))
    M.register(M.Metric(TOY, "share of generated values above 0.5", None, positive=False, measure=_bright_share))
    yield
    M.find.cache_clear()


def test_a_registered_metric_reaches_tensorboard_summarize_and_analyze(registered, tmp_path, capsys):
    run = tmp_path / "sweep" / "0_run"
    train(compose_config(*TINY, f"run_dir={run}"))
    records = [r for r in RunDir(run).read_metrics() if R.is_evaluation(r)]
    assert records and all(0 < r[NAME] < 1 and 0 <= r[TOY] <= 1 for r in records)
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    for name in (NAME, TOY):
        assert [e.step for e in events.Scalars(name)] == [r["step"] for r in records]
    assert summarize.main([str(tmp_path / "sweep"), "--metrics", NAME, TOY]) == 0
    table = (tmp_path / "sweep" / "summary.md").read_text()
    assert NAME in table and TOY in table
    assert analyze.main([str(run), "--num-samples", "16", "--out", str(tmp_path / "an")]) == 0
    analysed = json.loads((tmp_path / "an" / "metrics.json").read_text())["metrics"]
    assert NAME in analysed and TOY in analysed
    out = capsys.readouterr().out
    assert NAME in out and TOY in out


def test_every_registry_entry_has_its_function():
    assert [m.name for m in M.REGISTRY if m.fn is None and m.measure is None] == []
    assert all(callable(f) for f in M.measures())


def test_detail_entries_are_computed_only_on_request():
    images = torch.rand(16, 1, 16, 16) * 2 - 1
    stats = imagestats.image_stats(images, [2, 4])
    every, default = M.compute(stats, stats), M.compute(stats, stats, detail=False)
    assert set(default) < set(every)
    assert all(M.find(k).detail for k in set(every) - set(default))
    assert not any(M.find(k).detail for k in default)
    assert all(default[k] == every[k] or math.isnan(default[k]) and math.isnan(every[k]) for k in default)
