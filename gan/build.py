"""The Python entry point for one upsampler: ``gan.build.upsampler("pixel_shuffle_icnr", 64, 32)``
maps ``(B, 64, H, W)`` to ``(B, 32, 2H, 2W)``. Everything else that builds from config lives in
``gan.model.build``."""
from gan.model.build import upsampler

__all__ = ["upsampler"]
