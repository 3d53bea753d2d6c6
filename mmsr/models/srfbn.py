"""SRFBN: the feedback network of Li et al. (CVPR 2019, "Feedback network for image super-resolution") -- the
largest single-image column of Table 1 of 000 and of both tables of 001.

A recurrent network on the LR grid: every step ``t = 1..T`` reads the LR features ``F_in`` (a 3x3 convolution to
``4m`` maps, then 1x1 to ``m``) together with its own previous output ``F_out^{t-1}`` (the *feedback*; at
``t = 1`` the previous output is ``F_in`` itself) and runs the feedback block:

* ``L_0 = conv1x1([F_in, F_out^{t-1}])``;
* for ``g = 1..G``: ``H_g = Deconv(conv1x1([L_0..L_{g-1}]))`` (up to the HR grid), then
  ``L_g = Conv(conv1x1([H_1..H_g]))`` (back down) -- dense up/down projections, the 1x1 compressions only for
  ``g > 1``;
* ``F_out^t = conv1x1([L_1..L_G])``.

A reconstruction block (a transposed convolution to the HR grid, then a 3x3 convolution to the image) turns each
``F_out^t`` into a correction of the bicubic image, so every step gives an HR estimate; training averages the
loss over the steps (:meth:`SRFBN.step_outputs`), inference returns the last. The up/down projections use
kernel/stride/padding ``(6,2,2)``, ``(8,4,2)``, ``(12,8,2)`` at x2, x4, x8, and PReLU follows every convolution
but the last, as in the paper.

Sizes: the paper's SRFBN has ``m = 64, G = 6, T = 4``; its small variant SRFBN-S ``m = 32, G = 3, T = 4``, which is
our CPU default. Departures, all ours: one input channel (the NIR target; the paper super-resolves RGB and has a
mean shift for it), our losses and schedules (see :data:`mmsr.recipes.SRFBN_SETTINGS`), no curriculum learning
(the paper uses it only for degradations other than bicubic).
"""
from __future__ import annotations

import torch
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic

#: scale -> (kernel, stride, padding) of the up/down projections (the paper's Section 4.1)
PROJECTION = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


def _conv(cin, cout, k, stride=1, padding=None, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2 if padding is None else padding)]
    return nn.Sequential(*layers, nn.PReLU(cout)) if act else layers[0]


def _deconv(cin, cout, k, stride, padding):
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=padding), nn.PReLU(cout))


class FeedbackBlock(nn.Module):
    """The feedback block: ``forward(f_in, f_prev) -> f_out``, all ``(N, m, h, w)`` on the LR grid."""

    def __init__(self, features: int, groups: int, scale: int):
        super().__init__()
        k, s, p = PROJECTION[scale]
        m = features
        self.compress_in = _conv(2 * m, m, 1)
        self.up = nn.ModuleList(_deconv(m, m, k, s, p) for _ in range(groups))
        self.down = nn.ModuleList(_conv(m, m, k, s, p) for _ in range(groups))
        # 1x1 compressions of the dense inputs, from the second group on
        self.up_compress = nn.ModuleList(_conv(m * (g + 1), m, 1) for g in range(1, groups))
        self.down_compress = nn.ModuleList(_conv(m * (g + 1), m, 1) for g in range(1, groups))
        self.compress_out = _conv(m * groups, m, 1)

    def forward(self, f_in: torch.Tensor, f_prev: torch.Tensor) -> torch.Tensor:
        lows = [self.compress_in(torch.cat([f_in, f_prev], dim=1))]
        highs = []
        for g, (up, down) in enumerate(zip(self.up, self.down)):
            x = torch.cat(lows, dim=1)
            highs.append(up(self.up_compress[g - 1](x) if g else x))
            x = torch.cat(highs, dim=1)
            lows.append(down(self.down_compress[g - 1](x) if g else x))
        return self.compress_out(torch.cat(lows[1:], dim=1))


class SRFBN(nn.Module):
    """Single-image SR at ``scale`` (2, 4 or 8): ``model(lr, guide=None) -> hr``, ``lr`` ``(N, 1, h, w)``; the
    guide is accepted and ignored. ``features, groups, steps``: ``m, G, T`` of the paper."""

    def __init__(self, scale: int = 4, features: int = 32, groups: int = 3, steps: int = 4, channels: int = 1):
        super().__init__()
        self.scale = check_scale(scale)
        if self.scale not in PROJECTION:
            raise ValueError(f"SRFBN's projections are defined for scales {sorted(PROJECTION)}, got {scale}")
        if min(features, groups, steps) < 1:
            raise ValueError(f"features, groups and steps must be >= 1, got {features}, {groups}, {steps}")
        self.steps, self.channels = steps, channels
        k, s, p = PROJECTION[self.scale]
        self.extract = nn.Sequential(_conv(channels, 4 * features, 3), _conv(4 * features, features, 1))
        self.block = FeedbackBlock(features, groups, self.scale)
        self.reconstruct = nn.Sequential(_deconv(features, features, k, s, p),
                                         _conv(features, channels, 3, act=False))

    def _estimates(self, lr: torch.Tensor, every_step: bool) -> list:
        if lr.dim() != 4 or lr.shape[1] != self.channels:
            raise ValueError(f"SRFBN expects a (N, {self.channels}, h, w) LR image, got shape {tuple(lr.shape)}")
        up = upsample_bicubic(lr, self.scale)
        # features in channels-last layout: PyTorch's CPU transposed convolution (the up-projections) then
        # writes its output directly instead of copying it back to NCHW, which was most of SRFBN's inference
        # time (measured: 8x faster per up-projection, same values)
        f_in = self.extract(lr).contiguous(memory_format=torch.channels_last)
        f, outs = f_in, []
        for t in range(self.steps):
            f = self.block(f_in, f)
            if every_step or t == self.steps - 1:
                outs.append(up + self.reconstruct(f))
        return outs

    def step_outputs(self, lr: torch.Tensor, guide=None) -> list:
        """The HR estimate after every step (training averages its loss over them)."""
        return self._estimates(lr, every_step=True)

    def forward(self, lr: torch.Tensor, guide=None):
        """The last step's estimate; in training mode the list of all steps' estimates (the trainer averages the
        loss over a list: the paper's loss over the T outputs). Inference reconstructs only the last step."""
        return self._estimates(lr, every_step=True) if self.training else self._estimates(lr, False)[0]

    def extra_repr(self) -> str:
        return f"scale={self.scale}, steps={self.steps}"
