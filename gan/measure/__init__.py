"""What measures: spectra, grid depths, image-set statistics, the published detectors, SWD and FID, the reported
names, the metric registry and the evaluation of a generator; the spectrum figures. Imports core, data and
model only.
"""
