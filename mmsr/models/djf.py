"""Deep Joint image Filtering (DJF; Li, Huang, Ahuja and Yang, ECCV 2016): the learned joint filter that the
LMCSC table (``../shared/papers/000_*``, Table 1, column "DJF [6]") and the CMSR table (``003_*``, Table 1,
column "DeepJF [14]") compare against. The paper itself is not in ``../shared/papers``; the architecture below is
the one its authors published (and their MatConvNet release):

* ``CNN_T`` on the bicubic-upsampled target and ``CNN_G`` on the guide, each an SRCNN-like "9-1-5" stack
  (96 and 48 feature maps, a one-channel output),
* ``CNN_F`` on the two concatenated one-channel responses, again 9-1-5 (64 and 32 maps, one output).

As in the extended version (DJF+, TPAMI 2019) and our SRCNN, the network predicts the correction to the
bicubic target (``residual=True``): the same function class, and training starts at the bicubic PSNR because
the last layer starts near zero. Borders are padded by replication so that the output has the input's size
(the original trained on valid convolutions with cropped targets).
"""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic


def nine_one_five(in_channels: int, n1: int, n2: int, out_channels: int = 1) -> nn.Sequential:
    """conv 9x9 -> ReLU -> conv 1x1 -> ReLU -> conv 5x5 (same size, replicate padding)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, n1, 9, padding=4, padding_mode="replicate"), nn.ReLU(),
        nn.Conv2d(n1, n2, 1), nn.ReLU(),
        nn.Conv2d(n2, out_channels, 5, padding=2, padding_mode="replicate"))


class DJF(nn.Module):
    """``DJF(scale, guide_channels)``; called as ``model(lr, guide)`` like every model of :mod:`mmsr.models`."""

    def __init__(self, scale: int = 4, guide_channels: int = 3, residual: bool = True):
        super().__init__()
        self.scale = check_scale(scale)
        self.guide_channels = guide_channels
        self.residual = residual
        self.cnn_t = nine_one_five(1, 96, 48)
        self.cnn_g = nine_one_five(guide_channels, 96, 48)
        self.cnn_f = nine_one_five(2, 64, 32)
        last = self.cnn_f[-1]
        nn.init.normal_(last.weight, std=1e-3)
        nn.init.zeros_(last.bias)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        if guide is None:
            raise ValueError("DJF needs a guide image")
        if guide.shape[1] != self.guide_channels:
            raise ValueError(f"DJF was built for {self.guide_channels}-channel guides, got {guide.shape[1]} "
                             f"channels (guide shape {tuple(guide.shape)})")
        up = upsample_bicubic(lr, self.scale)
        if guide.shape[-2:] != up.shape[-2:]:
            raise ValueError(f"guide size {tuple(guide.shape[-2:])} does not match the upsampled target "
                             f"{tuple(up.shape[-2:])} (lr {tuple(lr.shape[-2:])} x{self.scale})")
        out = self.cnn_f(torch.cat([self.cnn_t(up), self.cnn_g(guide)], 1))
        return up + out if self.residual else out
