"""``python -m gan.archive SWEEP_DIR --to results/NAME``: a study's per-run records, compact enough
for the repository, from which ``python -m gan.summarize results/NAME ...`` regenerates every table
and figure of the study (docs/results.md).

Each run that ended (finished or diverged) keeps ``config.yaml``, Hydra's record (``.hydra/``),
``status.json`` and its ``metrics.jsonl`` gzipped (about 45 kB a run at 32 px); checkpoints, event
files and samples stay behind. Archiving a part again as it grows adds its new runs: a run already
in the archive with the same records is skipped, one with different records is refused (one run,
one record), and a run still running or stopped is left out and listed.
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

from gan.core.errors import UserError, report
from gan.run.rundir import CONFIG, HYDRA_DIR, RunDir, Status

#: Hydra's record of a job that the archive keeps (the config groups chosen, the overrides).
HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")


def archived_files(run: RunDir) -> dict[str, bytes]:
    """The archive's files of ``run``, by path relative to the run's folder (a packed job's seed
    takes its job's Hydra record along, one folder up)."""
    files = {name: (run.path / name).read_bytes() for name in (CONFIG, run.status_file.name)
             if (run.path / name).is_file()}
    up = "../" if run.owner != run else ""
    for name in HYDRA_FILES:
        source = run.owner.path / HYDRA_DIR / name
        if source.is_file():
            files[f"{up}{HYDRA_DIR}/{name}"] = source.read_bytes()
    text = "".join(line + "\n" for line in run.metrics_file.read_text().splitlines())
    files[run.archived_metrics_file.name] = gzip.compress(text.encode(), mtime=0)
    return files


def archive_run(run: RunDir, dest: Path) -> bool:
    """Write ``run``'s archived files into ``dest`` (its folder in the archive); False when they are
    there already, ``UserError`` when different records of the same run are."""
    files = archived_files(run)
    existing = {name: (dest / name).read_bytes() for name in files if (dest / name).is_file()}
    if existing:
        if existing == files:
            return False
        raise UserError(f"{dest}: already archived with different records; archive this run elsewhere "
                        "or remove the old one")
    for name, data in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return True


def archive(sweep_dir: Path, out: Path) -> tuple[list[RunDir], list[RunDir], list[RunDir]]:
    """Archive every run under ``sweep_dir`` into ``out`` (same relative folders): the runs
    added, those already there, and those left out because they have not ended."""
    runs = RunDir.find(sweep_dir)
    if not runs:
        raise UserError(f"{sweep_dir}: no run folders (no config.yaml or .hydra/config.yaml below it)")
    added, present, open_ = [], [], []
    for run in runs:
        if run.liveness().status not in (Status.FINISHED, Status.DIVERGED):
            open_.append(run)
        elif archive_run(run, out / run.path.relative_to(sweep_dir)):
            added.append(run)
        else:
            present.append(run)
    return added, present, open_


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gan.archive", description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir", type=Path, help="a sweep folder (or one run's folder)")
    ap.add_argument("--to", type=Path, required=True, help="the archive folder, e.g. results/study")
    args = ap.parse_args(argv)
    try:
        if not args.sweep_dir.is_dir():
            raise UserError(f"{args.sweep_dir}: no such folder")
        added, present, open_ = archive(args.sweep_dir, args.to)
    except UserError as e:
        return report(e)
    size = sum(f.stat().st_size for f in args.to.rglob("*") if f.is_file())
    print(f"{len(added)} run(s) archived into {args.to}, {len(present)} already there; "
          f"{args.to} holds {size / 1e6:.2f} MB")
    for run in open_:
        print(f"  left out (not ended: {run.liveness()}): {run.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
