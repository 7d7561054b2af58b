"""The failure rule (``gan.failures``) on synthetic records: each kind of failure planted alone is
found, a healthy run is not marked, and the artifact metrics never decide."""
import pytest

from gan import failures as F
from gan import names as N


def records(swd, d_fake=0.3, saturation=0.01, depth=0.05, steps=200):
    """Evaluation records every ``steps`` with the given SWD curve (one value per evaluation)."""
    out = []
    for i, s in enumerate(swd):
        out.append({"step": i * steps, N.CE.format(p=2): 0.01, N.SWD: s, N.D_FAKE: d_fake,
                    N.SATURATION: saturation, N.HEADLINE: depth,
                    N.of_generator(N.SWD, "ema"): s / 2, N.of_generator(N.SATURATION, "ema"): saturation})
    return out


HEALTHY = [300, 120, 80, 60, 55, 50, 52, 48, 50, 49, 51, 50, 49, 48, 50, 49]


def test_a_healthy_run_did_not_fail_whatever_its_depth():
    for depth in (0.0, 0.5, 50.0):
        assert F.failure(records(HEALTHY, depth=depth), 0.5) is None


def test_a_late_blow_up_is_a_failure_and_the_step_0_swd_is_not_its_best():
    blown = HEALTHY[:10] + [150, 180, 200, 160, 170, 190]
    assert F.failure(records(blown), 0.5).startswith("blew up")
    assert F.failure(records(HEALTHY[:10] + [90] * 6), 0.5) is None  # 1.8x its best: not blown up
    assert F.failure(records([50, 300, 300, 300, 300, 300]), 0.5) is None  # only step 0 before: nothing to compare


def test_neither_a_confident_discriminator_nor_saturated_colour_is_a_failure():
    assert F.failure(records(HEALTHY, d_fake=0.01), 0.5) is None  # the non-saturating loss still teaches G
    assert F.failure(records(HEALTHY, saturation=0.8), 0.5) is None


def test_a_divergence_is_a_failure():
    assert F.failure(records(HEALTHY), 0.5, diverged=True).startswith("diverged")
    assert F.failure(records(HEALTHY) + [{"step": 3200, N.DIVERGED: True}], 0.5).startswith("diverged")


def test_each_generator_is_judged_on_its_own_quality():
    """The weight average's SWD (half the raw one's here) is read for ``ema``."""
    rec = records(HEALTHY[:10] + [150] * 6)
    for r in rec[10:]:
        r[N.of_generator(N.SWD, "ema")] = 25
    assert F.failure(rec, 0.5, "raw").startswith("blew up")
    assert F.failure(rec, 0.5, "ema") is None


@pytest.mark.parametrize("window", [0.25, 0.5])
def test_the_window_decides_what_is_late(window):
    blown = HEALTHY[:12] + [200] * 4  # blown up in the last quarter only
    assert F.failure(records(blown), window).startswith("blew up")
