"""DCGAN generators with swappable upsamplers, and spectral measures of checkerboard artifacts."""
# gan.run.naming registers the ${run_name:...} resolver of conf/train.yaml in every process that imports
# the library, sweep workers included (joblib and submitit compose or resolve jobs' configs there).
from gan.run import naming  # noqa: F401

__version__ = "0.2.0"
