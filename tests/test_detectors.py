"""The published spectrum-based detectors (``gan.measure.detectors``): real against real reads AUC 0.5
with intervals that hold it at their nominal rate, a planted checkerboard is found and more so the
deeper it is, and the AUC's standard error is the spread of the AUC over independent test sets."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

from gan.data.procedural import dead_leaves_images
from gan.measure import artifacts
from gan.measure import detectors as DT
from tests import detectors_reference


def test_auc_is_the_mann_whitney_statistic_and_its_se_is_its_spread():
    """Scores N(1, 1) against N(0, 1), 100 each: the AUC equals scikit-learn's, its mean over 400
    independent draws is Phi(1 / sqrt 2), and DeLong's SE matches the draws' SD within 12%
    (the Monte Carlo error of an SD over 400 draws is 3.5%)."""
    rng = np.random.default_rng(0)
    aucs, ses = [], []
    for _ in range(400):
        pos, neg = rng.normal(1, 1, 100), rng.normal(0, 1, 100)
        auc, se = DT.auc_delong(pos, neg)
        aucs.append(auc)
        ses.append(se)
    assert auc == pytest.approx(roc_auc_score(np.r_[np.ones(100), np.zeros(100)], np.r_[pos, neg]), abs=1e-12)
    assert np.mean(aucs) == pytest.approx(stats.norm.cdf(1 / math.sqrt(2)), abs=3 * np.std(aucs) / 20)
    assert np.mean(ses) == pytest.approx(np.std(aucs, ddof=1), rel=0.12)


def test_real_against_real_reads_half_and_the_interval_holds_it_at_its_nominal_rate():
    """20 independent pairs of dead-leaves sets (16 px, 128 images each): every detector's 95%
    interval holds 0.5 in at least 17 of them (16 or fewer has probability 1.6% at 95% coverage)
    and the mean AUC is 0.5 within 3 standard errors."""
    pool = dead_leaves_images(20 * 256, 16, seed=11)
    found = {name: [] for name in DT.DETECTORS}
    for i, sets in enumerate(pool.split(256)):
        for name, d in DT.detectability(sets[:128], sets[128:], seed=i).items():
            found[name].append(d)
    for name, ds in found.items():
        held = sum(d.auc_low <= 0.5 <= d.auc_high for d in ds)
        aucs = np.array([d.auc for d in ds])
        assert held >= 17, (name, held)
        assert abs(aucs.mean() - 0.5) < 3 * aucs.std(ddof=1) / math.sqrt(len(aucs)), name


def test_a_planted_checkerboard_is_detected_and_more_so_the_deeper_it_is():
    x = dead_leaves_images(1024, 32, seed=12)
    fake, real = x[:512], x[512:]
    c = artifacts.checkerboard(32, 32, torch.float32)
    aucs = {}
    for depth in (0.0, 0.01, 0.03, 0.1):
        planted = fake + depth * (fake - fake.mean(dim=(-2, -1), keepdim=True)) * c
        aucs[depth] = DT.detectability(planted, real)
    for name in DT.DETECTORS:
        curve = [aucs[d][name].auc for d in sorted(aucs)]
        assert aucs[0.03][name].auc_low > 0.75, (name, curve)
        assert aucs[0.0][name].auc_low <= 0.5 <= aucs[0.0][name].auc_high or abs(curve[0] - 0.5) < 0.1
        assert curve[1] < curve[2] < curve[3] or curve[3] == 1.0, (name, curve)


def test_features_have_the_published_shapes():
    x = dead_leaves_images(4, 32, seed=0)
    assert DT.DETECTORS["frank"].features(x).shape == (4, 32 * 32)
    assert DT.DETECTORS["durall"].features(x).shape == (4, round(32 / math.sqrt(2)))
    with pytest.raises(ValueError, match="at least 16"):
        DT.detect(x, x, DT.DETECTORS["frank"])


def test_a_blank_set_is_perfectly_detectable_and_never_an_error():
    """A collapsed generator's constant images against the data: every feature of the blank set sits
    on the reference's floor (finite), and both detectors tell it apart; blank against blank: 0.5."""
    real = dead_leaves_images(64, 16, seed=1)
    for value in (0.0, -1.0):
        blank = torch.full_like(real, value)
        for name, d in DT.detectability(blank, real).items():
            assert d.auc == 1.0 and d.accuracy > 0.9, name
    for name, d in DT.detectability(torch.zeros_like(real), torch.zeros_like(real)).items():
        assert d.auc == 0.5, name


def test_the_log_floor_is_the_references_for_both_sets():
    """Two draws of one distribution, each half blank images: a floor taken from each set's own
    mean would put the two sets' blank images at two different constants, which a detector
    separates perfectly (AUC near 0.75 from the blank half alone); one floor for both cannot."""
    def half_blank(seed):
        x = dead_leaves_images(96, 16, seed=seed)
        x[::2] = 0.0
        return x

    fake, real = half_blank(4), half_blank(5)
    for name, detector in DT.DETECTORS.items():
        floor = DT.log_floor(detector.spectra(real))
        # the blank images of both sets have the same (finite) features: nothing for a detector to learn there
        on_floor = detector.features(fake, floor)[::2]
        assert np.isfinite(on_floor).all()
        np.testing.assert_array_equal(on_floor, detector.features(real, floor)[::2])
        assert not np.array_equal(detector.features(fake)[::2], detector.features(real)[::2])  # own floors differ
        d = DT.detect(fake, real, detector)
        assert abs(d.auc - 0.5) < 0.12, (name, d.auc)
    assert DT.log_floor(np.zeros(3)) == DT.BLANK_FLOOR and DT.log_floor(np.ones(3)) == DT.LOG_FLOOR


def test_nan_or_inf_pixels_are_refused_by_name():
    real = dead_leaves_images(32, 16, seed=3)
    bad = real.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="generated images hold NaN or Inf"):
        DT.detectability(bad, real)


@pytest.mark.parametrize("size, n, depth", [(32, 256, 0.02), (32, 64, 0.05), (16, 64, 0.0)])
def test_the_fit_in_the_training_rows_span_is_the_fit_on_every_feature(size, n, depth, monkeypatch):
    """``detect`` fits its classifier on the training rows' coordinates in their own span (n x n,
    however many features); tests/detectors_reference.py fits scikit-learn's scaler and classifier
    on every feature in float64. At the same tolerance, both are the same penalised optimum: the
    same test scores' AUC and SE and the same weights per feature, with more features than
    training rows (Frank's 1024 or 256) and fewer (Durall's 23 or 11), the Gram matrix summed in
    several column chunks."""
    monkeypatch.setattr(DT, "GRAM_CHUNK_VALUES", 5000)
    x = dead_leaves_images(2 * n, size, seed=12)
    fake, real = x[:n] + depth * (x[:n] - x[:n].mean(dim=(-2, -1), keepdim=True)) * artifacts.checkerboard(size, size), x[n:]
    for name, detector in DT.DETECTORS.items():
        found = DT.detect(fake, real, detector, seed=3)
        score_f, score_r, weights = detectors_reference.detect(fake, real, name, seed=3)
        auc, se = DT.auc_delong(score_f, score_r)
        assert (found.auc, found.auc_se) == pytest.approx((auc, se), abs=1e-9), name
        np.testing.assert_allclose(found.weights, weights, rtol=0, atol=1e-3 * np.abs(weights).max(), err_msg=name)
