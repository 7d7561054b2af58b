"""The one writer of a run's TensorBoard events and ``metrics.jsonl``.

Library code returns named scalars (``{"checkerboard/p2": 0.01, ...}``); training hands them
here. Events go straight into the run directory, so ``tensorboard --logdir outputs`` lists one
run per directory, HParams included.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import torch
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary
from torchvision.utils import make_grid, save_image

from gan.measure.figures import radial_profiles_figure, spectra_figure
from gan.measure.imagestats import SpectralStats
from gan.measure.names import FINAL_PREFIX
from gan.run.rundir import RunDir


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """Map generator output in [-1, 1] to [0, 1] for display."""
    return (images.detach().float().cpu() + 1).mul_(0.5).clamp_(0, 1)


class RunLogger:
    """TensorBoard + JSONL writer for one run directory.

    ``resume_step``: when resuming, events and JSONL records after that step are discarded, so
    the logs continue exactly where the checkpoint left off.
    """

    def __init__(self, run_dir: str | Path | RunDir, resume_step: int | None = None):
        self.run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.run.path.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            self.run.write_metrics([r for r in self.run.read_metrics() if r.get("step", -1) <= resume_step])
        self.writer = SummaryWriter(str(self.run.path), purge_step=resume_step + 1 if resume_step is not None else None)

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """TensorBoard scalars only (training curves)."""
        for tag, v in values.items():
            self.writer.add_scalar(tag, float(v), step)

    def metrics(self, step: int, values: Mapping[str, Any], logged: Mapping[str, Any] | None = None) -> None:
        """Evaluation numbers: TensorBoard scalars and one ``metrics.jsonl`` record; ``logged``: numbers
        already in TensorBoard (the training statistics) that the record keeps beside them."""
        self.scalars(step, {k: v for k, v in values.items() if isinstance(v, (int, float))})
        record = {**(logged or {}), **values}
        self.run.append_metrics({"step": step, **{k: _json_value(v) for k, v in record.items()}})

    def images(self, step: int, tag: str, images: torch.Tensor, nrow: int = 8, save: bool = False) -> None:
        """A grid of generator-range images ``(B, C, H, W)`` in [-1, 1]; ``save``: also ``samples/step_*.png``."""
        grid = make_grid(to_unit_range(images), nrow=nrow, padding=1)
        self.writer.add_image(tag, grid, step)
        if save:
            path = self.run.sample_file(step)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(grid, path)

    def figure(self, step: int, tag: str, fig) -> None:
        self.writer.add_figure(tag, fig, step, close=True)

    def spectra(self, step: int, fake: SpectralStats, real: SpectralStats) -> None:
        """The radial profiles and mean log-spectra of generated vs real images, as figures."""
        freqs, profile = fake.radial
        self.figure(step, "spectrum/radial_profile", radial_profiles_figure(
            freqs, {"generated": profile, "real": real.radial[1]}, title=f"step {step}"))
        self.figure(step, "spectrum/mean_log_spectrum", spectra_figure(
            {"generated": fake.log_spectrum, "real": real.log_spectrum}, title=f"step {step}",
            ratio_of=("generated", "real")))

    def text(self, tag: str, text: str, step: int = 0) -> None:
        self.writer.add_text(tag, text, step)

    def hparams(self, hparams: Mapping[str, Any], final_metrics: Mapping[str, float], step: int) -> None:
        """The HParams entry of this run, written into the run's own event file; its metrics
        (``final/NAME``) are logged at the final ``step``, where they belong on a curve."""
        metrics = {f"{FINAL_PREFIX}{k}": float(v) for k, v in final_metrics.items()
                   if isinstance(v, (int, float)) and math.isfinite(v)}
        exp, ssi, sei = hparams_summary(dict(hparams), metrics)
        for summary in (exp, ssi, sei):
            self.writer.file_writer.add_summary(summary)
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def layout(self, layout: Mapping[str, Any]) -> None:
        """A custom-scalars layout (TensorBoard's Custom Scalars tab)."""
        self.writer.add_custom_scalars(dict(layout))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _json_value(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item() if v.numel() == 1 else v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN/Inf; gan.summarize reports such values as excluded, with the reason
    return v
