"""Stop signals during training: recorded mid-step, acted on at a step boundary after a checkpoint;
a second Ctrl-C (SIGINT) stops at once.

SIGTERM, SIGINT and the scheduler's warning signal (submitit's ``$SUBMITIT_PREEMPT_SIGNAL``,
USR2 by default, which SLURM sends before a preemption or the time limit) are deferred. After the
checkpoint of the current step, a signal for which a host process installed its own handler
(submitit: requeue on USR2, ignore SIGTERM) goes to that handler; any other stops training with
``TrainingInterrupted``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from gan.core.errors import TrainingInterrupted

log = logging.getLogger(__name__)


def stop_signals() -> tuple[int, ...]:
    """SIGTERM, SIGINT and the job scheduler's warning signal (default USR2)."""
    names = ("SIGTERM", "SIGINT", "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"))
    return tuple(dict.fromkeys(int(getattr(signal, n)) for n in names if hasattr(signal, n)))


@dataclass
class DeferredSignals:
    """Signals received during a step, and the handlers that were installed before training."""

    received: list[int] = field(default_factory=list)
    previous: dict[int, Any] = field(default_factory=dict)

    def host_handler(self, signum: int):
        """The Python handler a host process installed for ``signum`` (e.g. submitit's requeue), or
        None when the signal's default action applies (then training stops with a checkpoint)."""
        h = self.previous.get(signum)
        if getattr(h, "stops_training", False):  # a sweep's own handler (``sweep_stop``): stop like a run
            return None
        return h if callable(h) and h is not signal.default_int_handler else None


@contextlib.contextmanager
def deferred_signals(signums: tuple[int, ...] | None = None):
    """Record stop signals instead of acting mid-step; the loop acts on them at a step boundary. A
    stop the sweep around this job already received (``sweep_stop``: a signal that came while the
    job was being set up) is the first signal recorded, so the job stops at its first boundary."""
    deferred = DeferredSignals()
    if _SWEEPS and _SWEEPS[-1].signum:
        deferred.received.append(_SWEEPS[-1].signum)
    if threading.current_thread() is not threading.main_thread():  # handlers only in the main thread
        yield deferred
        return
    def record(signum, frame):
        if signum == signal.SIGINT and signal.SIGINT in deferred.received:
            raise KeyboardInterrupt  # a second Ctrl-C: at once, without waiting for the checkpoint
        deferred.received.append(signum)

    for s in signums or stop_signals():
        deferred.previous[s] = signal.signal(s, record)
    try:
        yield deferred
    finally:
        for s, handler in deferred.previous.items():
            signal.signal(s, handler)


def act_on_signals(deferred: DeferredSignals, step: int, record: Callable[[int, str | None], None],
                   resume_hint: str = "rerun the same command to resume") -> None:
    """Called after the checkpoint of ``step`` was saved. A signal with a host handler is passed to
    it (submitit requeues the job and exits, or ignores SIGTERM); any other stops training.
    ``record(step, reason)`` notes the run's state around a host handler (``gan.run.lifecycle.
    host_signal_status``): the reason before it runs, None if it returns."""
    while deferred.received:
        signum = deferred.received.pop(0)
        host = deferred.host_handler(signum)
        if host is None:
            raise TrainingInterrupted(signum, step, resume_hint)
        name, owner = signal.Signals(signum).name, getattr(host, "__qualname__", repr(host))
        log.warning("%s at step %d: checkpoint saved; passing the signal to %s", name, step, owner)
        record(step, f"{name} at step {step}, passed to {owner}")
        host(signum, None)  # may exit the process (submitit: after requeueing this job)
        record(step, None)


@dataclass
class SweepStop:
    """The stop signal a sweep received (``signum``; 0: none)."""

    signum: int = 0


#: The sweeps running in this process, innermost last (``sweep_stop``).
_SWEEPS: list[SweepStop] = []


@contextlib.contextmanager
def sweep_stop():
    """While a sweep launches its jobs: a stop signal is recorded instead of raising
    KeyboardInterrupt, so the launcher keeps waiting while every running job checkpoints and
    returns; the sweep then starts no further job. A job trained in this process (the basic
    launcher) stops as a single run does."""
    stop = SweepStop()

    def handler(signum, frame):
        if signum == signal.SIGINT and stop.signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: at once, without waiting for the running jobs
        stop.signum = stop.signum or signum

    handler.stops_training = True
    previous = {s: signal.signal(s, handler) for s in stop_signals()} \
        if threading.current_thread() is threading.main_thread() else {}
    _SWEEPS.append(stop)
    try:
        yield stop
    finally:
        _SWEEPS.remove(stop)
        for s, h in previous.items():
            signal.signal(s, h)
