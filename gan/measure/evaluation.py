"""One evaluation of generated images against real ones, with the real side computed once.

``Evaluator(real, ...)`` caches the real images' statistics, SWD's sorted projections, the FID
weights and the detectors' real images (``Evaluator.from_config(dataset, cfg)`` draws them as
``cfg.eval`` says); calling it on one generator's samples returns an ``Evaluation``: every number
of every ``gan.measure.metrics.REGISTRY`` entry by its name (the depths and distances, the
spectral distance, SWD/FID, with the generator's stage outputs their depths, with its network the
layers' checkerboard, with detector images the published detectors' results) plus the statistics
that figures are drawn from. Training (the trained and the averaged generator alike),
``gan.analyze`` and the calibrations evaluate through it; it draws and logs nothing itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from gan.core.runtime import release_freed_memory
from gan.data.imageset import ImageSet, float_bytes, head, on_device
from gan.data.loading import sample_images
from gan.measure import fid as inception
from gan.measure import metrics
from gan.measure import names as N
from gan.measure.imagestats import SpectralStats, image_stats
from gan.measure.swd import SlicedWasserstein, max_images

log = logging.getLogger(__name__)

#: The real images and SWD projections of the reference do not depend on the run's seed: every seed
#: (and every replica of a packed job) is measured against the same data.
REFERENCE_SEED = 0


@dataclass
class Evaluation:
    metrics: dict[str, float]
    fake: SpectralStats
    real: SpectralStats | None


class Evaluator:
    """The reference cached at construction; ``__call__(fake (N, C, S, S), ...) -> Evaluation``.

    ``real``: ``(M, C, S, S)`` reference images, or None (numbers of the generated images alone);
    ``periods``: the checkerboard periods read; ``options``: ``image_stats``' spectrum options;
    ``group``: the generated sample count (the reference's set statistics are taken at it);
    ``swd``: ``(patches, directions)`` or None; ``fid``: FID/KID with Inception weights ``fid_weights``
    (None: torch-fidelity's cached file), skipped with a note where unavailable;
    ``detector_images``: real images kept for the published detectors (0: none); ``detail``: the
    ``detail`` entries of the registry too."""

    def __init__(self, real: ImageSet | None, periods: list[int], options: dict, group: int, f_min: float = 0.0,
                 swd: tuple[int, int] | None = None, fid: bool = False, fid_weights: str | None = None,
                 detector_images: int = 0, detail: bool = False, device: torch.device | str = "cpu",
                 progress: bool = False):
        self.periods, self.options, self.f_min, self.detail = periods, options, float(f_min), detail
        self.device, self.progress, self.seed = torch.device(device), progress, REFERENCE_SEED
        self.real = None if real is None else image_stats(on_device(real, self.device), periods, group=group,
                                                           progress=progress, **options)
        if self.real is not None and self.real.saturation > 0.5 and options.get("saturation", "none") == "none":
            log.warning("%.0f%% of the real pixels sit at tanh's limits: artifacts there are squashed; "
                        "eval.saturation=atanh measures them before the tanh", 100 * self.real.saturation)
        self.swd_count = 0  # images per set compared by SWD (the first ones)
        self.swd = None
        if swd is not None and real is not None and min(real.shape[-2:]) >= 16:
            self.swd_count = min(len(real), group, max_images(*real.shape[-2:], *swd, channels=real.shape[1]))
            self.swd = SlicedWasserstein(on_device(head(real, self.swd_count), self.device), REFERENCE_SEED, *swd)
        self.fid_weights = None
        if fid and real is not None:
            reason = inception.unavailable_reason(fid_weights)
            if reason:
                log.info("FID/KID skipped: %s", reason)
            else:
                self.fid_weights = inception.inception_weights(fid_weights)
        self.real_images = real[:].cpu() if self.fid_weights is not None else None  # FID reads them all
        self.detector_real = (on_device(head(real, detector_images), torch.device("cpu"))
                              if detector_images and real is not None else None)
        self.detections: dict = {}  # the last detectors' results (their weights: what gives the images away)

    @classmethod
    def from_config(cls, dataset, cfg, device: torch.device | str = "cpu") -> Evaluator:
        """The evaluation of a run: ``cfg.eval.num_real`` images of ``dataset`` (the same for every
        seed), its periods, spectrum options, SWD, FID, detectors and ``eval.detail``."""
        e = cfg.eval
        real = sample_images(dataset, e.num_real, seed=REFERENCE_SEED)
        options = dict(window=e.window, channels=e.channels, residual=e.residual, boundary=e.boundary,
                       saturation=e.saturation)
        return cls(real, N.periods_for(cfg.image_size), options, group=e.num_samples, f_min=e.f_min,
                   swd=(e.swd_patches, e.swd_dirs) if e.swd else None,
                   fid=e.fid, fid_weights=e.fid_weights,
                   detector_images=e.detector_images if e.detectors else 0, detail=bool(e.get("detail", False)),
                   device=device)

    def __call__(self, fake: ImageSet, stages: list[torch.Tensor] | None = None,
                 detector_fake: ImageSet | None = None, generator: torch.nn.Module | None = None) -> Evaluation:
        """Every number of one generator's samples ``fake`` ``(N, C, S, S)``; with ``stages`` (its
        stage outputs ``[(N, C_i, S_i, S_i), ...]``, the last one ``fake``) their depths, with
        ``generator`` its layers' checkerboard, with ``detector_fake`` ``(M, C, S, S)`` the
        published detectors' results on them."""
        stats = image_stats(on_device(fake, self.device), self.periods, progress=self.progress, **self.options)
        sample = metrics.Sample(fake, stats, stages, generator, detector_fake)
        values = metrics.compute(stats, self.real, self.f_min, self.detail)
        for measure in metrics.measures():
            release_freed_memory(float_bytes(fake))  # what the last step freed, before the next
            values |= measure(self, sample)
        return Evaluation(values, stats, self.real)
