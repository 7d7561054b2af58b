"""Datasets chosen by ``data=NAME``: procedural images (the embedded default), files (torchvision sets and
folders) and their loading (seeded batches, samples). Imports core only.

Every dataset yields images ``(C, S, S)`` scaled to [-1, 1].
"""
