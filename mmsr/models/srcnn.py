"""SRCNN (Dong et al., 2014; ``../shared/papers/004_*``): the three-layer single-image baseline.

``F1 = max(0, W1 * Y + B1)`` (patch extraction, ``f1 = 9``, ``n1 = 64``), ``F2 = max(0, W2 * F1 + B2)``
(non-linear mapping, ``1x1``, ``n2 = 32``), ``F = W3 * F2 + B3`` (reconstruction, ``f3 = 5``): the "9-1-5"
network, applied to the bicubic-upsampled LR image and trained with the MSE loss ``L = 1/n sum ||F(Y_i) - X_i||^2``.
Borders are padded by replication, as in the MATLAB test code of 004 (``imfilter(..., 'same', 'replicate')``),
so the output has the input's size.
"""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic


class SRCNN(nn.Module):
    def __init__(self, scale: int = 2, channels: int = 1, n1: int = 64, n2: int = 32, f1: int = 9, f2: int = 1,
                 f3: int = 5, residual: bool = False):
        super().__init__()
        self.scale = check_scale(scale)
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, n1, f1, padding=f1 // 2, padding_mode="replicate")
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=f2 // 2, padding_mode="replicate")
        self.conv3 = nn.Conv2d(n2, channels, f3, padding=f3 // 2, padding_mode="replicate")
        for conv in (self.conv1, self.conv2, self.conv3):  # Gaussian init (std 0.001 in the paper; 0.01 trains faster)
            nn.init.normal_(conv.weight, std=0.01 if conv is not self.conv3 else 0.001)
            nn.init.zeros_(conv.bias)
        if not residual:
            # start from the identity on the bicubic input so that training begins at the bicubic PSNR
            with torch.no_grad():
                self.conv3.bias.zero_()

    def forward(self, lr: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        up = upsample_bicubic(lr, self.scale)
        out = self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(up)))))
        return up + out if self.residual else out
