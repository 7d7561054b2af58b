"""Where a run lives, and the only place that knows its file names.

``RunDir.of(cfg)`` is the folder a run writes (the Hydra callback, the sweeper, training and
``gan.analyze`` all ask it); ``RunDir.job(sweep_dir, name)`` a sweep job's and ``replica(seed)`` the
folder of one seed of a packed job. Folder *names* come from ``gan.run.naming``.

A run directory holds ``config.yaml`` (the resolved config, written by training), ``.hydra/``
(Hydra's own record), ``metrics.jsonl`` (one JSON object per evaluation), ``status.json``,
TensorBoard event files, ``samples/step_*.png`` and ``checkpoints/`` (file names from
``gan.run.checkpoint``). Training, logging, ``gan.analyze``, ``gan.summarize`` and the figure scripts all
reach these files through ``RunDir``.
"""
from __future__ import annotations

import fcntl
import gzip
import json
import os
import socket
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from gan.core.config import with_current_targets
from gan.core.errors import UserError
from gan.run import checkpoint as ckpt

CONFIG = "config.yaml"
HYDRA_DIR = ".hydra"
METRICS = "metrics.jsonl"
#: The same records compressed, as a study's archive keeps them (``gan.archive``).
METRICS_ARCHIVED = METRICS + ".gz"
STATUS = "status.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOCK = "run.lock"
#: The folder of seed S inside a packed job (``num_seeds > 1``).
REPLICA = "seed={seed}"
REPLICA_GLOB = REPLICA.format(seed="*")

#: A running run refreshes its heartbeat every 10 s at most; one this old belongs to a dead process.
STALE_AFTER_S = 15 * 60

#: Lock files this process holds, by resolved path -> open file descriptor (released when it exits).
_HELD: dict[Path, int] = {}


class Status(str, Enum):
    """What a run's state is: the first five are written to ``status.json`` (by ``gan.run.lifecycle``
    only), the others are what a reader concludes (``RunDir.liveness``)."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"   # stopped by a signal after a checkpoint: the same command continues it
    DIVERGED = "diverged"         # NaN/Inf: the last good checkpoint is kept
    FAILED = "failed"             # an error (its message in "error")
    STALE = "stale"               # says running, but its process is gone or its heartbeat stopped
    UNKNOWN = "unknown"           # records but no readable status.json
    NOT_STARTED = "not started"   # neither records nor status.json
    UNREADABLE = "unreadable config"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Liveness:
    """A run's ``Status`` as read, with what explains it: ``stale (pid 12 is gone)``."""

    status: Status
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.status} ({self.detail})" if self.detail else str(self.status)


class RunDirInUse(UserError):
    """Another live process writes this run directory. Exit code 2."""


class RunDir:
    """Paths and records of one run directory ``path`` (it need not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def of(cls, cfg: DictConfig) -> RunDir:
        """Where the run of ``cfg`` writes: ``cfg.run_dir`` if set; else the folder Hydra chose for
        it (``hydra.run.dir`` for a single run, ``hydra.sweep.dir/hydra.sweep.subdir`` for a sweep
        job), read from ``cfg``'s own ``hydra`` node or from the running Hydra app; else the cwd."""
        if cfg.get("run_dir"):
            return cls(cfg.run_dir)
        if "hydra" in cfg:
            hydra = cfg.hydra
            return cls(Path(hydra.sweep.dir) / str(hydra.sweep.subdir) if hydra.mode == RunMode.MULTIRUN else hydra.run.dir)
        if HydraConfig.initialized():
            return cls(HydraConfig.get().runtime.output_dir)
        return cls(Path.cwd())

    @classmethod
    def job(cls, sweep_dir: str | Path, name: str) -> RunDir:
        """The folder of the sweep job ``name`` (``gan.run.naming.job_name``) in ``sweep_dir``."""
        return cls(Path(sweep_dir) / name)

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
        before training wrote its own), its ``_target_`` names as the library has them today
        (``gan.core.config.with_current_targets``); ``FileNotFoundError`` naming both when neither is there."""
        for f in (self.config_file, self.hydra_config_file):
            if f.is_file():
                return with_current_targets(OmegaConf.load(f))
        raise FileNotFoundError(f"{self.path}: run directory without {CONFIG} or {HYDRA_DIR}/config.yaml")

    def save_config(self, cfg: DictConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, self.config_file, resolve=True)

    @property
    def is_replica(self) -> bool:
        """Whether this is the folder of one seed inside a packed job (``REPLICA``)."""
        return self.path.match(REPLICA_GLOB)

    @property
    def owner(self) -> RunDir:
        """The job folder that holds this run's checkpoints and Hydra record: a packed job's for
        one of its seeds, else this folder itself."""
        return RunDir(self.path.parent) if self.is_replica else self

    def hydra_choices(self) -> dict[str, str]:
        """Config-group choices of a Hydra job, ``{"upsampler": "transposed_k3", "data": ...}`` (a packed
        job's seed folder has its job's)."""
        path = self.path / HYDRA_DIR / "hydra.yaml"
        if not path.is_file():
            path = self.owner.path / HYDRA_DIR / "hydra.yaml"
        if not path.is_file():
            return {}
        choices = OmegaConf.select(OmegaConf.load(path), "hydra.runtime.choices") or {}
        return {k: str(v) for k, v in choices.items() if not k.startswith("hydra/")}

    # -- records ------------------------------------------------------------------------------

    @property
    def archived_metrics_file(self) -> Path:
        return self.path / METRICS_ARCHIVED

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl`` (or of an archived run's ``metrics.jsonl.gz``); a
        truncated last line is ignored."""
        if self.metrics_file.is_file():
            text = self.metrics_file.read_text()
        elif self.archived_metrics_file.is_file():
            text = gzip.decompress(self.archived_metrics_file.read_bytes()).decode()
        else:
            return []
        records = []
        for line in text.splitlines():
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
            return {"status": Status.UNKNOWN.value}

    def liveness(self, stale_after: float = STALE_AFTER_S) -> Liveness:
        """The status, with ``running`` checked: ``stale`` when the process is gone from this host or
        its heartbeat is older than ``stale_after`` seconds (a run killed without a word); without a
        ``status.json``, ``not started`` or (with records) ``unknown``."""
        status = self.read_status()
        word = status.get("status", Status.UNKNOWN.value)
        if word == Status.UNKNOWN:
            return Liveness(Status.UNKNOWN, "no status.json") if self.metrics_file.exists() else Liveness(Status.NOT_STARTED)
        if word != Status.RUNNING:
            return Liveness(Status(word)) if word in Status._value2member_map_ else Liveness(Status.UNKNOWN, word)
        if status.get("host") == socket.gethostname() and not _alive(status.get("pid")):
            return Liveness(Status.STALE, f"pid {status.get('pid')} is gone")
        beat = status.get("heartbeat")
        if beat is not None and time.time() - beat > stale_after:
            return Liveness(Status.STALE, f"no heartbeat for {(time.time() - beat) / 60:.0f} min")
        return Liveness(Status.RUNNING)

    def holds_run(self) -> bool:
        """Whether a run has written here (its config, metrics or a checkpoint)."""
        return (self.config_file.exists() or self.metrics_file.exists() or self.status_file.exists()
                or bool(ckpt.candidates(self.checkpoint_dir)) or bool(self.replica_dirs()))

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
        path = self.lock_file.resolve()
        if self.held():
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

    def held(self) -> bool:
        """Whether this process holds the directory's lock (``lock``)."""
        return self.lock_file.resolve() in _HELD

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
        return [RunDir(p) for p in sorted(self.path.glob(REPLICA_GLOB)) if (p / CONFIG).is_file()]

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
