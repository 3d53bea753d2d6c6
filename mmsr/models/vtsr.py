"""VTSRCNN and VTSRGAN (Almasri & Debeir, "Multimodal sensor fusion in single thermal image super-resolution",
arXiv:1812.09276, 2018): the visible-thermal columns of CMSR's Table 1 (Shacht et al.).

What is known and what is ours. CMSR describes both as "built on top of the existing SRCNN and SRGAN", performing
"joint visual-thermal SR by concatenating feature maps extracted from each input modality", trained on aligned
ULB17-VT pairs. The authors' release names the variants they compared (a thermal network of residual blocks,
10 or 16 of them, upsampled by deconvolution; VTSRCNN adds the visible branch; the GAN variants add a
discriminator). Their code is not public, so the layer sizes below are ours, chosen to fit a CPU budget:

* **thermal branch** (LR grid): a 3x3 convolution, ``blocks`` residual blocks (conv-PReLU-conv plus the input),
  a 3x3 convolution with a skip from the first features (SRGAN's generator, shortened), then ``log2(scale)``
  transposed convolutions (kernel 4, stride 2) each followed by a PReLU -- the "deconvolution" upsampling;
* **visible branch** (HR grid): two 3x3 convolutions with PReLU on the guide;
* **fusion**: the two feature stacks concatenated, a 3x3 convolution with PReLU and a 3x3 convolution to one
  channel, added to the bicubic upsampling of the input (a global residual: ours, as in our SRCNN and DJF --
  training starts at the bicubic PSNR; the last layer starts near zero).

:class:`VTSRDiscriminator` is a compact, fully convolutional SRGAN discriminator (strided 3x3 convolutions with
LeakyReLU, channels doubling every second layer, average-pooled to one logit per image; no batch norm and no
dense layers -- ours, so that any patch size works). VTSRGAN is VTSRCNN's generator trained with the MSE plus
a small adversarial term (:class:`mmsr.training.TrainConfig` ``adversarial_weight``; SRGAN's 1e-3), starting
from the trained VTSRCNN as SRGAN starts from SRResNet. SRGAN's VGG feature loss is left out (no pretrained
VGG weights offline): our VTSRGAN is the MSE-plus-adversarial variant.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..checks import check_scale
from ..degrade import upsample_bicubic


class ResidualBlock(nn.Module):
    """``x + conv(PReLU(conv(x)))`` with 3x3 convolutions of ``features`` channels."""

    def __init__(self, features: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), nn.PReLU(features),
                                  nn.Conv2d(features, features, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class VTSRCNN(nn.Module):
    """``VTSRCNN(scale, features=32, blocks=4, guide_channels=3)``; called as ``model(lr, guide)``.

    ``scale`` must be a power of two (one transposed convolution per factor two).
    """

    def __init__(self, scale: int = 4, features: int = 32, blocks: int = 4, guide_channels: int = 3):
        super().__init__()
        self.scale = check_scale(scale)
        if self.scale & (self.scale - 1):
            raise ValueError(f"VTSRCNN upsamples by factors of two; scale {scale} is not a power of two")
        if features < 1 or blocks < 0 or guide_channels not in (1, 3):
            raise ValueError(f"features >= 1, blocks >= 0 and guide_channels in (1, 3) expected, got "
                             f"{features}, {blocks}, {guide_channels}")
        self.guide_channels = guide_channels
        f = features
        self.head = nn.Sequential(nn.Conv2d(1, f, 3, padding=1), nn.PReLU(f))
        self.body = nn.Sequential(*[ResidualBlock(f) for _ in range(blocks)], nn.Conv2d(f, f, 3, padding=1))
        ups = []
        for _ in range(int(math.log2(self.scale))):
            ups += [nn.ConvTranspose2d(f, f, 4, stride=2, padding=1), nn.PReLU(f)]
        self.upsample = nn.Sequential(*ups)
        self.visible = nn.Sequential(nn.Conv2d(guide_channels, f, 3, padding=1), nn.PReLU(f),
                                     nn.Conv2d(f, f, 3, padding=1), nn.PReLU(f))
        self.fuse = nn.Sequential(nn.Conv2d(2 * f, f, 3, padding=1), nn.PReLU(f), nn.Conv2d(f, 1, 3, padding=1))
        nn.init.normal_(self.fuse[-1].weight, std=1e-3)
        nn.init.zeros_(self.fuse[-1].bias)

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        if guide is None:
            raise ValueError("VTSRCNN needs a guide image")
        if lr.dim() != 4 or lr.shape[1] != 1:
            raise ValueError(f"expected a (N, 1, h, w) target, got {tuple(lr.shape)}")
        if guide.shape[1] != self.guide_channels:
            raise ValueError(f"VTSRCNN was built for {self.guide_channels}-channel guides, got {guide.shape[1]} "
                             f"channels (guide shape {tuple(guide.shape)})")
        size = (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale)
        if tuple(guide.shape[-2:]) != size:
            raise ValueError(f"guide size {tuple(guide.shape[-2:])} does not match the target's x{self.scale} "
                             f"size {size}")
        x = self.head(lr)
        x = self.upsample(x + self.body(x))
        out = self.fuse(torch.cat([x, self.visible(guide)], 1))
        return upsample_bicubic(lr, self.scale) + out


class VTSRDiscriminator(nn.Module):
    """A fully convolutional SRGAN-style critic: ``(N, 1, H, W)`` -> ``(N,)`` logits (real = HR image)."""

    def __init__(self, features: int = 32, layers: int = 6):
        super().__init__()
        if layers < 2:
            raise ValueError(f"the discriminator needs at least 2 layers, got {layers}")
        mods, c_in = [], 1
        for i in range(layers):
            c_out = features * 2 ** (i // 2)
            mods += [nn.Conv2d(c_in, c_out, 3, stride=2 if i % 2 else 1, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*mods)
        self.classify = nn.Conv2d(c_in, 1, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(image)).mean(dim=(1, 2, 3))
