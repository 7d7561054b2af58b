"""The published detectors as first written (scikit-learn's scaler and classifier on every feature,
float64, all in memory): what ``gan.measure.detectors.detect`` is checked against."""
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gan.measure import detectors as DT


def detect(fake: torch.Tensor, real: torch.Tensor, name: str, seed: int = 0,
           tol: float = DT.TOLERANCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test halves' decision scores (fake ``(n,)``, real ``(m,)``) and the weights per
    standardised feature ``(F,)``, on the same halves and floor as ``detect``."""
    spectrum = DT.DETECTORS[name].spectrum
    log = DT.DETECTORS[name].log
    rng = np.random.default_rng(seed)
    (f_train, f_test), (r_train, r_test) = DT.halves(len(fake), rng), DT.halves(len(real), rng)
    f, r = spectrum(fake).astype(np.float64), spectrum(real).astype(np.float64)
    floor = DT.LOG_FLOOR * np.concatenate([r[r_train], r[r_test]]).mean()
    f, r = log(f + floor), log(r + floor)
    x_train = np.concatenate([f[f_train], r[r_train]])
    y_train = np.concatenate([np.ones(len(f_train)), np.zeros(len(r_train))])
    classifier = LogisticRegressionCV(Cs=8, cv=5, scoring="neg_log_loss", max_iter=DT.MAX_ITER, tol=tol, random_state=seed)
    model = make_pipeline(StandardScaler(), classifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model.fit(x_train, y_train)
    return model.decision_function(f[f_test]), model.decision_function(r[r_test]), model[-1].coef_[0]
