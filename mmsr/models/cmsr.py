"""Zero-shot networks: ZSSR (Shocher et al.) and CMSR (Shacht et al., ``../shared/papers/003_*``, Fig. 2).

Both are small, fully convolutional and trained on one image (pair) by :mod:`mmsr.zeroshot`.

* :class:`ZSSRNet`: ``bicubic(lr) + F(bicubic(lr))`` with ``F`` a plain stack of ``depth`` 3x3 convolutions of
  ``width`` channels, ReLU between them (ZSSR: 8 layers, 64 channels), the residual over bicubic.
* :class:`CMSRNet`: the three-way residual sum of 003, Fig. 2:
  ``out = bicubic(lr) + FE1(bicubic(lr)) + FE2(guide)``. FE1 is the ZSSR stack; FE2 reads the (deformed) guide
  through ``fe2_depth`` layers (003: 4-8 layers of 4-128 channels) whose last layer is a 1x1 convolution
  without activation. The last layer of each branch starts at zero, so an untrained CMSR is bicubic.

Borders are padded by replication (no dark frame from zero padding at the image edge).
"""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic


def conv_stack(in_channels: int, width: int, depth: int, last_kernel: int = 3, last_std: float = 1e-3) -> nn.Sequential:
    """``depth`` convolutions (3x3, ReLU between, He-initialised; the last ``last_kernel`` wide with one output,
    initialised at ``N(0, last_std^2)`` so that the branch starts near zero but every layer gets a gradient)."""
    if depth < 2:
        raise ValueError(f"depth must be >= 2, got {depth}")
    layers, c = [], in_channels
    for _ in range(depth - 1):
        layers += [nn.Conv2d(c, width, 3, padding=1, padding_mode="replicate"), nn.ReLU(inplace=True)]
        c = width
    last = nn.Conv2d(c, 1, last_kernel, padding=last_kernel // 2, padding_mode="replicate")
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    nn.init.normal_(last.weight, std=last_std)
    nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class ZSSRNet(nn.Module):
    def __init__(self, scale: int = 4, width: int = 64, depth: int = 8):
        super().__init__()
        self.scale = check_scale(scale)
        self.fe1 = conv_stack(1, width, depth)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor | None = None, scale: int | None = None) -> torch.Tensor:
        up = upsample_bicubic(lr, scale or self.scale)
        return up + self.fe1(up)


class CMSRNet(nn.Module):
    def __init__(self, scale: int = 4, guide_channels: int = 3, width: int = 64, depth: int = 8,
                 fe2_width: int = 64, fe2_depth: int = 6):
        super().__init__()
        self.scale = check_scale(scale)
        self.guide_channels = guide_channels
        self.fe1 = conv_stack(1, width, depth)
        self.fe2 = conv_stack(guide_channels, fe2_width, fe2_depth, last_kernel=1)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        if guide is None or guide.shape[1] != self.guide_channels:
            raise ValueError(f"CMSRNet expects a guide with {self.guide_channels} channels, got "
                             f"{None if guide is None else tuple(guide.shape)}")
        s = scale or self.scale
        if guide.shape[-2:] != (lr.shape[-2] * s, lr.shape[-1] * s):
            raise ValueError(f"guide size {tuple(guide.shape[-2:])} is not {s} x the target size {tuple(lr.shape[-2:])}")
        up = upsample_bicubic(lr, s)
        return up + self.fe1(up) + self.fe2(guide)

    def branches(self, lr: torch.Tensor, guide: torch.Tensor, scale: int | None = None):
        """``(bicubic, FE1 residual, FE2 residual)``: the three terms of the sum (Fig. 2 and Fig. 7 of 003)."""
        up = upsample_bicubic(lr, scale or self.scale)
        return up, self.fe1(up), self.fe2(guide)
