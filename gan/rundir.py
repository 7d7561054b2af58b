"""One run's directory: the only place that knows its file names.

A run directory holds ``config.yaml`` (the resolved config, written by training), ``.hydra/``
(Hydra's own record), ``metrics.jsonl`` (one JSON object per evaluation), ``status.json``,
TensorBoard event files, ``samples/step_*.png`` and ``checkpoints/`` (``last.pt`` plus periodic
``step_*.pt``). Training, logging, ``gan.analyze``, ``gan.summarize`` and the figure scripts all
reach these files through ``RunDir``.
"""
from __future__ import annotations

import json
import os
import socket
import time
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gan.errors import UserError

CONFIG = "config.yaml"
HYDRA_DIR = ".hydra"
METRICS = "metrics.jsonl"
STATUS = "status.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOCK = "run.lock"
#: The folder of seed S inside a packed job (``num_seeds > 1``).
REPLICA = "seed={seed}"

#: A running run refreshes its heartbeat every 10 s at most; one this old belongs to a dead process.
STALE_AFTER_S = 15 * 60

#: Lock files this process holds, by resolved path -> open file descriptor (released when it exits).
_HELD: dict[Path, int] = {}


class Status(str, Enum):
    """What ``status.json`` says about a run (``RunDir.write_status``)."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"   # stopped by a signal after a checkpoint: the same command continues it
    DIVERGED = "diverged"         # NaN/Inf: the last good checkpoint is kept
    FAILED = "failed"             # an error (its message in "error")

    def __str__(self) -> str:
        return self.value


class RunDirInUse(UserError):
    """Another live process writes this run directory. Exit code 2."""


class RunDir:
    """Paths and records of one run directory ``path`` (it need not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    # -- paths --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def hydra_config_file(self) -> Path:
        return self.path / HYDRA_DIR / "config.yaml"

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def status_file(self) -> Path:
        return self.path / STATUS

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    def sample_file(self, step: int) -> Path:
        return self.path / SAMPLES / f"step_{step:07d}.png"

    # -- config -------------------------------------------------------------------------------

    def has_config(self) -> bool:
        return self.config_file.is_file() or self.hydra_config_file.is_file()

    def config(self) -> DictConfig:
        """The resolved ``config.yaml``, else Hydra's ``.hydra/config.yaml`` (a run that stopped
        before training wrote its own); ``FileNotFoundError`` naming both when neither is there."""
        for f in (self.config_file, self.hydra_config_file):
            if f.is_file():
                return OmegaConf.load(f)
        raise FileNotFoundError(f"{self.path}: run directory without {CONFIG} or {HYDRA_DIR}/config.yaml")

    def save_config(self, cfg: DictConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, self.config_file, resolve=True)

    def hydra_choices(self) -> dict[str, str]:
        """Config-group choices of a Hydra job, ``{"upsampler": "transposed_k3", "data": ...}`` (a packed
        job's seed folder has its job's)."""
        path = self.path / HYDRA_DIR / "hydra.yaml"
        if not path.is_file() and self.name.startswith("seed="):
            path = self.path.parent / HYDRA_DIR / "hydra.yaml"
        if not path.is_file():
            return {}
        choices = OmegaConf.select(OmegaConf.load(path), "hydra.runtime.choices") or {}
        return {k: str(v) for k, v in choices.items() if not k.startswith("hydra/")}

    # -- records ------------------------------------------------------------------------------

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl``; a truncated last line is ignored."""
        if not self.metrics_file.is_file():
            return []
        records = []
        for line in self.metrics_file.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def write_metrics(self, records: list[dict[str, Any]]) -> None:
        """Replace ``metrics.jsonl`` (used when a resumed run drops records past its checkpoint)."""
        self.metrics_file.write_text("".join(json.dumps(r) + "\n" for r in records))

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.metrics_file.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def write_status(self, status: Status, **info: Any) -> None:
        """``status.json`` = {"status": a ``Status``, "pid", "host", ...}, written atomically; pid and
        host say which process to signal (or to look for) in a sweep."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"status": Status(status).value, "pid": os.getpid(), "host": socket.gethostname(),
                                   **info}))
        os.replace(tmp, self.status_file)

    def read_status(self) -> dict[str, Any]:
        """``status.json``, or ``{"status": "unknown"}`` when there is none (or it is unreadable)."""
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, json.JSONDecodeError):
            return {"status": "unknown"}

    def liveness(self, stale_after: float = STALE_AFTER_S) -> str:
        """The status, with ``running`` checked: ``stale (...)`` when the process is gone from this
        host or its heartbeat is older than ``stale_after`` seconds (a run killed without a word)."""
        status = self.read_status()
        if status.get("status") != Status.RUNNING:
            return status.get("status", "unknown")
        if status.get("host") == socket.gethostname() and not _alive(status.get("pid")):
            return f"stale (pid {status.get('pid')} is gone)"
        beat = status.get("heartbeat")
        if beat is not None and time.time() - beat > stale_after:
            return f"stale (no heartbeat for {(time.time() - beat) / 60:.0f} min)"
        return Status.RUNNING.value

    def holds_run(self) -> bool:
        """Whether a run has written here (its config, metrics or a checkpoint)."""
        return (self.config_file.exists() or self.metrics_file.exists() or self.status_file.exists()
                or any(self.checkpoint_dir.glob("*.pt")) or bool(self.replica_dirs()))

    # -- one writer ---------------------------------------------------------------------------

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK

    def lock(self) -> bool:
        """Make this process the directory's only writer: an exclusive ``fcntl.flock`` on ``run.lock``
        (the holder's pid, host and start time written in it), held until the process exits or
        ``unlock``; the OS drops it when the process dies, so a killed run can be resumed at once.
        Returns True if this call took the lock, False if this process already held it. Raises
        ``RunDirInUse`` naming the holder when another process holds it; nothing is written then."""
        import fcntl

        path = self.lock_file.resolve()
        if path in _HELD:
            return False
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._lock_holder(fd)
            os.close(fd)
            raise RunDirInUse(f"{self.path} is in use by pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
                              f"(since {holder.get('since', '?')}): wait for that run to end or stop it, or give "
                              f"this run another directory (hydra.run.dir=...)") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        _HELD[path] = fd
        return True

    def unlock(self) -> None:
        """Release a lock this process took (the lock file stays; only the lock goes)."""
        fd = _HELD.pop(self.lock_file.resolve(), None)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    @staticmethod
    def _lock_holder(fd: int) -> dict[str, Any]:
        try:
            return json.loads(os.pread(fd, 4096, 0) or b"{}")
        except (OSError, json.JSONDecodeError):
            return {}

    # -- discovery ----------------------------------------------------------------------------

    def replica_dirs(self) -> list[RunDir]:
        """The run directories of a packed job's seeds (``seed=S/`` with a config), if any."""
        return [RunDir(p) for p in sorted(self.path.glob(REPLICA.format(seed="*"))) if (p / CONFIG).is_file()]

    def replica(self, seed: int) -> RunDir:
        """The run directory of seed ``seed`` in this packed job."""
        return RunDir(self.path / REPLICA.format(seed=seed))

    @classmethod
    def find(cls, root: str | Path) -> list[RunDir]:
        """Every run directory at or below ``root`` (a folder with ``config.yaml`` or
        ``.hydra/config.yaml``), sorted by path. A packed job's folder is not a run: its seeds'
        folders are (until they exist, the job stands for them)."""
        root = Path(root)
        found = {f.parent.parent if f.parent.name == HYDRA_DIR else f.parent for f in root.rglob(CONFIG)}
        return [cls(p) for p in sorted(found) if not (not (p / CONFIG).is_file() and cls(p).replica_dirs())]


def run_dir_of(cfg: DictConfig) -> RunDir:
    """Where a run writes: ``cfg.run_dir`` if set, else Hydra's output directory, else the cwd."""
    if cfg.get("run_dir"):
        return RunDir(cfg.run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return RunDir(HydraConfig.get().runtime.output_dir)
    return RunDir(Path.cwd())


def _alive(pid: Any) -> bool:
    """Whether a process with this pid exists on this host."""
    if not isinstance(pid, int):
        return True  # cannot tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
