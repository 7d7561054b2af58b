"""The README's ten-minute sweep, run as a newcomer types it in a fresh folder (at toy size: the
same commands with ``debug=tiny``): the sweep makes one folder per upsampler with TensorBoard's
records, and the summary reads them."""
import re
import shlex
import subprocess
import sys

from gan.core.config import load_preset
from gan.measure import names as N
from tests.conftest import TRAIN
from tests.test_docs import TEXT


def tour_block() -> list[list[str]]:
    """The commands of the README's sweep section, comments dropped."""
    section = TEXT["README.md"].split("## A sweep to look at in ten minutes", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_readme_sweep_runs_from_a_fresh_folder(tmp_path):
    commands = tour_block()
    assert [c[:2] for c in commands] == [["python", "train.py"], ["tensorboard", "--logdir"],
                                         ["python", "-m"]], commands
    sweep, board, summary = commands
    toy = ["debug=tiny", "train.steps=6", "eval.every=3", "eval.figures=false"]
    out = subprocess.run([sys.executable, str(TRAIN), *sweep[2:], *toy], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (folder,) = (tmp_path / board[2]).parent.iterdir()  # multirun/tour,debug=tiny: the folder says the toy size
    assert folder.name.split(",")[0] == board[2].split("/")[-1]
    jobs = sorted(p for p in folder.iterdir() if p.is_dir() and p.name[0].isdigit())
    upsamplers = load_preset("experiment", "tour").hydra.sweeper.params.upsampler.split(",")
    assert [j.name.split("upsampler=")[1] for j in sorted(jobs, key=lambda j: int(j.name.split("_")[0]))] == upsamplers
    for job in jobs:  # what `tensorboard --logdir` reads
        assert any(f.name.startswith("events.out.tfevents") for f in job.iterdir()), job
    assert summary[-1] == board[2]
    out = subprocess.run([sys.executable, *summary[1:-1], str(folder)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    table = (folder / "summary.md").read_text()
    assert N.HEADLINE in table and all(u in table for u in upsamplers)
