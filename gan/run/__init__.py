"""How one run lives: the training loop, its folder, lock and lifecycle, checkpoints, stop signals, logging (the
one writer of TensorBoard and metrics.jsonl), config validation, a run's records. Imports core, data, model
and measure.
"""
