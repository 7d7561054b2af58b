"""What TensorBoard shows first: the HParams row of a run and the comparison charts of a sweep.

* ``hparams(cfg)``: the config-group choices, the seed and the settings that matter for a
  comparison, under names a person reads (``Upsampler``, not ``upsampler._target_``). TensorBoard
  orders HParams columns by name, upper case first: ``Upsampler`` leads the table.
* the HParams table shows ``N.SUMMARY``.
* ``layout(size, stages)``: a custom-scalars layout that puts the whole grid's checkerboard depth
  and its octaves first, then the depths per period (their distance from the data's patterns), the
  dB detectors, the spectral distance and SWD of all runs on shared charts, and each depth of every
  generator stage on one chart.
"""
from __future__ import annotations

import re
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from gan.core import config
from gan.measure import depths as D
from gan.measure import names as N

#: Groups whose chosen preset names a run (in this order).
CHOICE_GROUPS = ("upsampler", "data", "generator", "discriminator", "experiment", "scale")
#: Readable name -> config key, for the settings that distinguish runs.
SETTINGS = {
    "seed": "seed", "image_size": "image_size", "ngf": "generator.ngf", "ndf": "discriminator.ndf",
    "upsample_layers": "generator.upsample_layers", "kernel_size": "upsampler.kernel_size",
    "blur": "upsampler.blur", "downsample": "discriminator.downsample", "steps": "train.steps",
    "batch_size": "train.batch_size", "loss": "train.loss", "lr_g": "train.lr_g", "lr_d": "train.lr_d",
}
def choices(cfg: DictConfig) -> dict[str, str]:
    """The preset chosen in each config group: from Hydra when it runs, else by matching the
    group's node against the presets (``custom`` when none matches)."""
    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices
        return {g: str(chosen[g]) for g in CHOICE_GROUPS if chosen.get(g) is not None}
    out = {}
    for group in ("upsampler", "data", "generator", "discriminator"):
        node = OmegaConf.to_container(cfg[group], resolve=True)
        out[group] = next((name for name in config.presets(group)
                           if OmegaConf.to_container(config.load_preset(group, name)) == node), "custom")
    return out


def hparams(cfg: DictConfig) -> dict[str, Any]:
    """The HParams entry of a run: the choices and the settings, values TensorBoard accepts."""
    chosen = choices(cfg)
    out: dict[str, Any] = {"Upsampler": chosen.pop("upsampler", "custom"), **chosen}
    for name, key in SETTINGS.items():
        value = OmegaConf.select(cfg, key)
        value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
        if value is not None:
            out[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def layout(size: int, stages: int = 0, detail: bool = False) -> dict[str, dict[str, list]]:
    """A TensorBoard custom-scalars layout for ``size x size`` images: every run on shared charts, the
    whole grid's depth and its octaves first, then the depth per period where the images have room
    for it (no empty chart); with ``stages``, one chart per period with every generator stage's line;
    ``detail`` (``eval.detail``): each part per period and stage, and the dB detectors, too."""
    def chart(*patterns: str) -> list:
        return ["Multiline", list(patterns)]

    periods, grid = N.periods_for(size), N.grid_period(size)
    depths = {"total": N.DEPTH, "content-following": N.PHASE_DEPTH, "fixed": N.FIXED_DEPTH, "replica": N.REPLICA_DEPTH}
    part = dict(zip(depths, N.DEPTH_PARTS))
    excess = {label: N.excess_name(name, "") for label, name in depths.items()}
    whole = {} if grid is None else {
        f"whole grid (P={grid})": chart(f"^{re.escape(N.HEADLINE)}$"),
        **{f"octave P={p} (P-periodic, not P/2)": chart(f"^{re.escape(N.OCTAVE_HEADLINE.format(p=p))}$")
           for p in periods if p <= grid},
        **{f"{label}, whole grid": chart(f"^{re.escape(N.grid_name(name))}$")
           for label, name in excess.items() if label != "total" and D.fits(grid, size, size, part[label])}}
    out = {
        "1 checkerboard depth of the whole grid, distance from the data's pattern (fraction of contrast)": whole,
        "2 checkerboard depth per period": {
            f"{label} P={p}": chart(f"^{re.escape(name.format(p=p))}$")
            for label, name in excess.items() for p in periods if D.fits(p, size, size, part[label])
            and (detail or label in ("total", "replica"))},
        "3 spectra and quality" + (", dB detectors" if detail else ""): {
            **{f"CE_{p} excess (dB)": chart(f"^{re.escape(N.CE_EXCESS_DB.format(p=p))}$") for p in periods if detail},
            **{f"PS_{p} excess (dB)": chart(f"^{re.escape(N.excess_name(N.PHASE_SPREAD).format(p=p))}$")
               for p in periods if detail},
            "spectral distance (decades)": chart(f"^{re.escape(N.SPECTRAL_DISTANCE)}$"),
            "SWD x 1e3": chart(f"^{re.escape(N.SWD)}$"),
        },
        "4 training": {"losses": chart(f"^{N.TRAIN_PREFIX}loss_"), "D outputs": chart(f"^{N.TRAIN_PREFIX}D_")},
    }
    if stages:
        out["5 depth per generator stage (every stage on one chart)"] = {
            f"{label} P={p}": chart(*(f"^{re.escape(N.stage_name(i, name.format(p=p)))}$" for i in range(stages)))
            for label, name in depths.items() for p in periods if detail or label == "total"}
    return out
