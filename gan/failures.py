"""Which runs failed: a rule fixed before a study, read from a run's own records (divergence and
image quality), never from the artifact metrics a study compares.

A run of generator ``raw`` or ``ema`` (``gan.names.GENERATORS``) failed when, over its headline
window (``gan.records.headline_records``):

* **diverged**: a NaN/Inf stopped it (its status or a ``diverged`` record);
* **blew up**: its mean SWD is more than ``BLOWUP_RATIO`` times the best (lowest) SWD it reached at
  an evaluation before the window (quality lost late in training);
The tests plant each failure in synthetic records. Two more conditions were part of the rule
before the study and were dropped after its first 17 runs, each for a reason that holds beyond
them; the numbers stay in every record for a reader to look at. "The discriminator wins (its mean
output on generated images below 0.05)" marked 15 of the 17 failed, runs whose SWD was as good as
any: with the non-saturating loss, -log D(G(z)) has its largest gradient exactly where D rejects
the samples, so a confident discriminator does not stop the generator from learning. "Most values
saturated (over half at tanh's limits)" marked resize_bilinear runs whose samples are varied
coloured blobs with the study's best SWD: saturated colour is a property of what the generator
draws, not a collapse.
"""
from __future__ import annotations

import math
from typing import Any

from gan import names as N
from gan import records as R

BLOWUP_RATIO = 2.0


def _mean(records: list[dict[str, Any]], key: str) -> float:
    values = [float(r[key]) for r in records if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return sum(values) / len(values) if values else math.nan


def failure(records: list[dict[str, Any]], window: float, generator: str = "raw", diverged: bool = False) -> str | None:
    """Why the run with these metrics.jsonl ``records`` failed, in a few words, or None if it did not."""
    if diverged or any(r.get(N.DIVERGED) for r in records):
        return "diverged (NaN/Inf)"
    chosen = R.headline_records(records, window)
    if not chosen:
        return None
    swd = N.of_generator(N.SWD, generator)
    start = chosen[0]["step"]
    earlier = [float(r[swd]) for r in records if R.is_evaluation(r) and 0 < r["step"] < start
               and isinstance(r.get(swd), (int, float)) and math.isfinite(r[swd])]
    now = _mean(chosen, swd)
    if earlier and now > BLOWUP_RATIO * min(earlier):
        return f"blew up (SWD {now:.3g} in the window, {min(earlier):.3g} at best before)"
    return None
