"""FID/KID are optional: skipped with one log line unless the weights are on disk; never downloaded."""
import logging

import pytest
import torch

from gan.measure import fid
from gan.measure.evaluation import Evaluator
from gan.model.build import build_dataset
from tests.conftest import TINY, compose_config


def test_no_weights_means_skipped_with_one_line(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty hub cache
    cfg = compose_config(*TINY, "eval.fid=true")
    with caplog.at_level(logging.INFO):
        ev = Evaluator.from_config(build_dataset(cfg), cfg)
    skipped = [r for r in caplog.records if "FID/KID skipped" in r.getMessage()]
    assert len(skipped) == 1 and ev.fid_weights is None
    metrics = ev(torch.rand(16, 3, 16, 16) * 2 - 1).metrics
    assert "quality/fid" not in metrics and "quality/swd" in metrics


def test_weights_are_found_only_where_they_are(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert fid.inception_weights(None) is None
    assert fid.inception_weights(str(tmp_path / "missing.pth")) is None
    cached = tmp_path / "checkpoints" / fid.INCEPTION_FILE
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    assert fid.inception_weights(None) == cached
    mine = tmp_path / "mine.pth"
    mine.write_bytes(b"x")
    assert fid.inception_weights(str(mine)) == mine


def test_fid_kid_passes_uint8_rgb_and_the_local_weights(tmp_path, monkeypatch):
    torch_fidelity = pytest.importorskip("torch_fidelity")
    seen = {}

    def fake_calculate_metrics(**kw):
        seen.update(kw)
        return {"frechet_inception_distance": 12.5, "kernel_inception_distance_mean": 0.01}
    monkeypatch.setattr(torch_fidelity, "calculate_metrics", fake_calculate_metrics)
    grey = torch.linspace(-1, 1, 2 * 8 * 8).view(2, 1, 8, 8)
    out = fid.fid_kid(grey, grey, tmp_path / "w.pth")
    assert out == {"quality/fid": 12.5, "quality/kid": 0.01}
    assert seen["feature_extractor_weights_path"] == str(tmp_path / "w.pth")  # never None: no download
    first, second = seen["input1"][0], seen["input1"][1]
    assert first.dtype == torch.uint8 and first.shape == (3, 8, 8)
    assert int(first.min()) == 0 and int(second.max()) == 255  # [-1, 1] -> [0, 255]
