"""The failures a run can end in, and the exit code of each.

Exit codes of ``train.py``: 0 finished, 2 a configuration, data or checkpoint problem that the user
can fix (one line names it), 3 diverged (NaN/Inf), 128+N stopped by signal N (a checkpoint was saved).
"""
from __future__ import annotations

import logging
import signal
import sys


class UserError(ValueError):
    """Fix your config or data: the message names what and where. Exit code 2."""


class ConfigError(UserError):
    """A config value that cannot work; the message names the key."""


class DataError(UserError):
    """Missing, empty or unusable data; the message says where it looked and what to do."""


class CheckpointError(UserError, RuntimeError):
    """No usable checkpoint where one was expected."""


class TrainingDiverged(RuntimeError):
    """A loss or weight became NaN/Inf; the last good checkpoint is kept. Exit code 3."""


class TrainingInterrupted(RuntimeError):
    """SIGTERM/SIGINT (or the scheduler's warning signal) arrived; the current step was saved."""

    def __init__(self, signum: int, step: int, resume_hint: str = "rerun the same command to resume"):
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved, {resume_hint}")
        self.signum, self.step, self.resume_hint = signum, step, resume_hint

    def __reduce__(self):  # a sweep job's outcome crosses process boundaries (joblib, submitit)
        return TrainingInterrupted, (self.signum, self.step, self.resume_hint)


def exit_code(e: BaseException) -> int | None:
    """The exit code for a known failure, or None for a bug (which keeps its traceback)."""
    if isinstance(e, TrainingInterrupted):
        return 128 + e.signum
    if isinstance(e, TrainingDiverged):
        return 3
    if isinstance(e, ValueError):  # UserError, and a library's own check of a value validate() let through
        return 2
    return None


def report(e: BaseException) -> int:
    """Print ``e`` as the one ``error: ...`` line on stderr (also into the run's log file, if one is
    open) and return its exit code; a bug (no exit code) is re-raised with its traceback."""
    code = exit_code(e)
    if code is None:
        raise e
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    print(f"error: {text}", file=sys.stderr, flush=True)
    for handler in logging.getLogger().handlers:  # the file only: the console already has the line
        if isinstance(handler, logging.FileHandler):
            handler.emit(logging.makeLogRecord({"name": "gan", "levelno": logging.ERROR, "levelname": "ERROR",
                                                "msg": f"error: {text}"}))
    return code
