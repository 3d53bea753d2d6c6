"""The mean of several trained models' outputs: a seed ensemble.

Networks trained from different seeds end at different points of the same loss landscape; where they disagree,
their average is usually nearer the target than any one of them, because the part of the error in which seeds
differ averages out while the part they share stays. How much averaging gains therefore measures how much of a
model's error is the spread of one training run. The price is one training and one forward pass per member, so
the book reports it as its own, labelled row ("mean of 3 seeds"), never as the model itself. Nothing is trained.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn


class MeanOfModels(nn.Module):
    """``models`` (each called ``model(lr, guide)``, at least two) wrapped so that a call returns the mean of
    their outputs. The members' parameters stay their own; the wrapper adds none."""

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        models = list(models)
        if len(models) < 2:
            raise ValueError(f"a mean of models needs at least two models, got {len(models)}")
        self.members = nn.ModuleList(models)

    def forward(self, lr: torch.Tensor, guide: Optional[torch.Tensor] = None) -> torch.Tensor:
        outs = [m(lr, guide) for m in self.members]
        shapes = {tuple(o.shape) for o in outs}
        if len(shapes) > 1:
            raise ValueError(f"the members' outputs differ in shape: {sorted(shapes)}")
        return torch.stack(outs).mean(dim=0)
