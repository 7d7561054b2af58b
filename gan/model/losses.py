"""GAN losses on discriminator logits ``(..., B)`` -> ``(...)``: the mean over the batch, per replica."""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: ``train.loss`` choices: the non-saturating BCE loss of DCGAN and the hinge loss.
LOSSES = ("bce", "hinge")


def d_loss(loss: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    if loss == "bce":
        return F.softplus(-real_logits).mean(dim=-1) + F.softplus(fake_logits).mean(dim=-1)
    if loss == "hinge":
        return F.relu(1 - real_logits).mean(dim=-1) + F.relu(1 + fake_logits).mean(dim=-1)
    raise ValueError(f"train.loss must be one of {', '.join(LOSSES)}, got {loss!r}")


def g_loss(loss: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if loss == "bce":  # non-saturating
        return F.softplus(-fake_logits).mean(dim=-1)
    if loss == "hinge":
        return -fake_logits.mean(dim=-1)
    raise ValueError(f"train.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
