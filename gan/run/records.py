"""A run's records (metrics.jsonl) and what is read from them: its headline (the mean over the last
evaluations), its closing line in words, and whether it has converged.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from scipy.stats import linregress
from scipy.stats import t as student_t

from gan.measure.metrics import find, number_text
from gan.measure.names import (CONVERGENCE, DIVERGED, FIXED_HEADLINE, HEADLINE, LAST_PREFIX, OCTAVE_HEADLINE,
                               P2_HEADLINE, PHASE_HEADLINE, REPLICA_HEADLINE, of_generator, se_name)


def is_evaluation(record: dict) -> bool:
    """Whether a metrics.jsonl record is an evaluation (not a training-loss line): it holds a
    registered metric (``gan.measure.metrics.find``)."""
    return any(find(k) is not None for k in record if k != "step")


def last_values(record: dict) -> dict[str, Any]:
    """An evaluation record's numbers as ``last/NAME`` (a run's final numbers keep its last
    evaluation beside the headline)."""
    return {f"{LAST_PREFIX}{k}": v for k, v in record.items() if k != "step"}


def headline_records(records: list[dict], window: float) -> list[dict]:
    """The evaluations a run's headline averages: those in the last ``window`` of the steps it
    trained (up to its last evaluation; ``window = 0``: the last one), diverged ones left out."""
    evaluations = [r for r in records if is_evaluation(r) and not r.get(DIVERGED)]
    if not evaluations:
        return []
    start = evaluations[-1]["step"] * (1 - window)
    return [r for r in evaluations if r["step"] >= start and r["step"] > 0] or evaluations[-1:]


def run_headline(records: list[dict], window: float) -> dict[str, float]:
    """A run's headline numbers from its evaluation records: per metric, the mean over the
    evaluations of ``headline_records`` (geometric for positive quantities, which keeps it
    consistent with their excess in dB). One evaluation moves by several dB from the next, their
    mean much less."""
    chosen = headline_records(records, window)
    if not chosen:
        return {}
    out = {}
    for key, last in chosen[-1].items():
        if key == "step" or isinstance(last, bool) or not isinstance(last, (int, float)):
            continue
        values = [float(r[key]) for r in chosen if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        if not values:
            continue
        info = find(key)
        if info is not None and info.positive and min(values) > 0:
            out[key] = math.exp(sum(math.log(v) for v in values) / len(values))
        else:
            out[key] = sum(values) / len(values)
    return out


def describe(numbers: dict[str, Any], generator: str = "raw") -> str:
    """The headline in words: ``the whole grid's pattern (P=8) 30.1% of the contrast away from the
    data's (SE 0.8 points, the sampling of one evaluation), by octave 5.2% at P=2, 10.3% at P=4,
    28.0% at P=8; 20.1% following the content, 22.4% fixed; at P=2 alone 5.3%, 23.3% replicas``."""
    def value(name: str) -> float:
        v = numbers.get(of_generator(name, generator), math.nan)
        return float(v) if isinstance(v, (int, float)) else math.nan

    whole = value(HEADLINE)
    if math.isnan(whole):
        return "no depths (no evaluation with a reference)"
    octave = re.compile(re.escape(of_generator(OCTAVE_HEADLINE, generator)).replace(r"\{p\}", r"(\d+)") + "$")
    octaves = sorted((int(m.group(1)), float(v)) for k, v in numbers.items() if (m := octave.match(k)))
    se = value(se_name(HEADLINE))
    def shown(name: str) -> str:
        return number_text(name, value(name), ".1f")

    pm = f" (SE {number_text(HEADLINE, se, '.2g', ' points')}, the sampling of one evaluation)" if math.isfinite(se) else ""
    grid = f" (P={octaves[-1][0]})" if octaves else ""
    by = ", by octave " + ", ".join(f"{number_text(HEADLINE, v, '.1f')} at P={p}" for p, v in octaves) if octaves else ""
    replica_text = f", {shown(REPLICA_HEADLINE)} replicas" if math.isfinite(value(REPLICA_HEADLINE)) else ""
    whose = " of the weight average" if generator == "ema" else ""
    return (f"the whole grid's pattern{grid}{whose} {shown(HEADLINE)} of the contrast away from the data's{pm}{by}; "
            f"{shown(PHASE_HEADLINE)} following the content, {shown(FIXED_HEADLINE)} fixed; "
            f"at P=2 alone {shown(P2_HEADLINE)}{replica_text}")


@dataclass(frozen=True)
class Plateau:
    """The change of one metric over a run's headline window: slope x window length from a least
    squares line through its evaluations, with the 95% t-interval (scipy.stats.linregress)."""

    metric: str
    change: float
    low: float
    high: float
    n: int

    @property
    def flat(self) -> bool:
        """Whether no trend is seen: the interval of the change holds 0."""
        return self.low <= 0 <= self.high


def plateau(records: list[dict], window: float, metric: str) -> Plateau | None:
    """``Plateau`` of ``metric`` over the evaluations of ``headline_records``; None with fewer than 3."""
    points = [(r["step"], float(r[metric])) for r in headline_records(records, window)
              if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
    if len(points) < 3 or len({s for s, _ in points}) < 2:
        return None
    steps, values = zip(*points)
    fit = linregress(steps, values)
    span = steps[-1] - steps[0]
    half = student_t.ppf(0.975, len(points) - 2) * fit.stderr * span
    return Plateau(metric, fit.slope * span, fit.slope * span - half, fit.slope * span + half, len(points))


def plateaus(records: list[dict], window: float, generator: str = "raw") -> list[Plateau]:
    """``plateau`` of each metric of ``CONVERGENCE`` (of ``generator``) that has enough evaluations to tell."""
    return [p for m in of_generator(CONVERGENCE, generator) if (p := plateau(records, window, m)) is not None]


def all_flat(found: list[Plateau]) -> bool | None:
    """The convergence rule: True when none of ``found`` shows a trend; None when it is empty."""
    return all(p.flat for p in found) if found else None


def converged(records: list[dict], window: float, generator: str = "raw") -> bool | None:
    """A run has converged when none of ``CONVERGENCE`` (of ``generator``) shows a trend over its
    headline window; None when it has too few evaluations there to tell."""
    return all_flat(plateaus(records, window, generator))
