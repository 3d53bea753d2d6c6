"""The recurrent coupled network of 001 ("Joint image super-resolution via recurrent CNNs with coupled sparse
priors", Marivani et al.): a dual-state RNN whose states are convolutional sparse codes.

What the slides of 001 fix ("Main components", "Network design", "Conclusion"):

* ACSC sparse feature maps of the LR target **on the LR grid** (no bicubic initialisation) and of the HR guide;
* LeSITA fusion of the two modalities (the coupled sparse prior of chapters 2-3);
* a dual-state RNN producing the HR representation: one state on the LR grid, one on the HR grid;
* a convolutional dictionary reconstructing the whole HR image at once.

The slides leave the rest open; **our choices** (each an argument, to be decided by ablation on the validation
split) are:

    l_t = phi_gamma( l_{t-1} - C * (E * l_{t-1}) + W * y + Down(h_{t-1}) )         LR state (ACSC step + feedback)
    h_t = xi_mu( h_{t-1} - Q * (R * h_{t-1}) + Up(l_t) ; z )                        HR state (LMCSC step, eq. (5) of 000)
    x   = Dec * mean_t(h_t) + Skip(y)

with ``l_0 = h_0 = 0``, ``z`` the guide's ACSC codes, weights and thresholds shared over the ``steps`` steps,
``Up``/``Down`` per-map (depthwise) transposed / strided convolutions by the scale factor (``Up`` starts as
bilinear interpolation of each code map), and ``Skip`` a learned upsampling of ``y`` that starts as bilinear --
not bicubic, and learned, as 001 asks. With ``Up(l_t)`` standing for ``D~ * x / L`` and ``Q = D~ / L``,
``R = D``, one HR step is exactly one proximal-gradient step of l1-l1 minimisation (:meth:`hr_step`, tested);
with ``Down = 0``, ``W * y = D^T y / L``, ``C = D^T/L`` and ``E = D`` one LR step is one ISTA step
(:meth:`lr_step`, tested). Options for chapter 7's ablation (the defaults are the committed network):
``fusion='none'`` removes the guide branch (soft thresholding in the HR state): a single-image network;
``fusion='lr'`` fuses in the LR state instead (LeSITA there, with the guide codes averaged onto the LR grid; soft
thresholding in the HR state) and ``fusion='both'`` in both states; ``shared=False`` gives steps ``2..T`` their
own filters and thresholds; ``updown='fixed'`` keeps ``Up``/``Down`` at bilinear interpolation and its adjoint
divided by ``scale**2`` (an average), not learned, and ``updown='subpixel'`` replaces them by a per-map 3x3
convolution to ``scale**2`` maps and a pixel shuffle (``Up``, starting as nearest-neighbour copying) and a pixel
unshuffle followed by a per-map 3x3 convolution (``Down``). Two options for chapter 7's x2 question:
``side_weight=True`` gives LeSITA's ``|u - s|`` term in the HR state a learned weight ``nu`` of its own per map
(:func:`~mmsr.ops.shrinkage.lesita_weighted`; ``nu = mu`` at the start, ``nu = 0`` switches the guide off in that
map), and ``skip_kernel`` widens ``Skip`` (its bilinear taps zero-padded: the same function at the start).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_scale
from ..degrade import imresize
from ..ops.operators import conv2d_few_outputs
from ..ops.shrinkage import lesita, lesita_weighted, soft_threshold
from .acsc import ACSC


def _updown_geometry(scale: int) -> tuple[int, int]:
    """Kernel and padding for which a stride-``scale`` transposed conv maps ``n -> n * scale`` and the strided conv
    maps ``n * scale -> n`` exactly (any integer scale)."""
    return 2 * scale - scale % 2, scale // 2


def bilinear_kernel(size: int, scale: int) -> torch.Tensor:
    """The ``size x size`` transposed-convolution kernel of bilinear upsampling by ``scale``."""
    center = (size - 1) / 2 if size % 2 else size / 2 - 0.5
    r = torch.arange(size, dtype=torch.float64)
    w = (1 - (r - center).abs() / scale).clamp_min(0)
    return (w[:, None] * w[None, :]).float()


def _random_filters(out_c: int, in_c: int, kernel: int, std: float) -> nn.Parameter:
    """A ``(out_c, in_c, kernel, kernel)`` filter bank drawn from N(0, std^2) (the order of calls is the order of
    the draws: keep it, committed runs were started from it)."""
    return nn.Parameter(torch.randn(out_c, in_c, kernel, kernel) * std)


#: where the guide enters: the HR state (committed), nowhere, the LR state, both states
FUSIONS = ("lesita", "none", "lr", "both")
#: the projections between the grids: learned depthwise transposed / strided convolutions (committed), the same
#: kept at bilinear interpolation and its averaging adjoint, sub-pixel convolution
UPDOWNS = ("learned", "fixed", "subpixel")


class _FixedResample(nn.Module):
    """Per-map bilinear upsampling by ``scale`` (``direction='up'``) or its adjoint divided by ``scale**2``, a
    weighted average (``'down'``); not learned (the kernel is a non-persistent buffer, rebuilt from the scale)."""

    def __init__(self, maps: int, scale: int, direction: str):
        super().__init__()
        self.size, self.pad = _updown_geometry(scale)
        self.scale, self.direction, self.maps = scale, direction, maps
        w = bilinear_kernel(self.size, scale) / (1 if direction == "up" else scale ** 2)
        self.register_buffer("weight", w.expand(maps, 1, self.size, self.size).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.direction == "up":
            return F.conv_transpose2d(x, self.weight, stride=self.scale, padding=self.pad, groups=self.maps)
        return F.conv2d(x, self.weight, stride=self.scale, padding=self.pad, groups=self.maps)


class _SubPixelUp(nn.Module):
    """Each map to ``scale**2`` maps by a 3x3 convolution, then a pixel shuffle; starts as nearest-neighbour copying
    (centre tap 1 for every sub-pixel position)."""

    def __init__(self, maps: int, scale: int):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(maps, maps * scale ** 2, 3, padding=1, groups=maps, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:, :, 1, 1] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), self.scale)


class _SubPixelDown(nn.Module):
    """Pixel unshuffle (each map to its ``scale**2`` sub-grids), then a 3x3 convolution of each map's sub-grids back
    to one map; starts as small random filters, like the learned ``Down``."""

    def __init__(self, maps: int, scale: int, std: float):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(maps * scale ** 2, maps, 3, padding=1, groups=maps, bias=False)
        nn.init.normal_(self.conv.weight, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_unshuffle(x, self.scale))


class _StepWeights(nn.Module):
    """The filters and thresholds of one recurrent step when steps do not share them (``shared=False``)."""

    def __init__(self, k: int, kernel: int, gamma0: float, mu0: float, std: float, side_weight: bool = False):
        super().__init__()

        def filt(out_c, in_c):
            return _random_filters(out_c, in_c, kernel, std)

        self.E, self.C = filt(1, k), filt(k, 1)
        self.gamma = nn.Parameter(torch.full((1, k, 1, 1), float(gamma0)))
        self.Q, self.R = filt(k, 1), filt(1, k)
        self.mu = nn.Parameter(torch.full((1, k, 1, 1), float(mu0)))
        self.nu = nn.Parameter(torch.full((1, k, 1, 1), float(mu0))) if side_weight else None


class RecurrentCoupledNet(nn.Module):
    """``model(lr (N,1,h,w), guide (N,C,hs,ws)) -> (N,1,hs,ws)``, the dual-state recurrent coupled network."""

    def __init__(self, scale: int = 4, atoms: int = 64, kernel: int = 5, steps: int = 3, guide_channels: int = 3,
                 guide_layers: int = 3, gamma0: float = 0.01, mu0: float = 0.01, std: float = 0.01,
                 output: str = "mean", fusion: str = "lesita", shared: bool = True, updown: str = "learned",
                 side_weight: bool = False, skip_kernel=None):
        super().__init__()
        self.scale = check_scale(scale)
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (size-preserving padding), got {kernel}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if output not in ("mean", "last"):
            raise ValueError(f"output must be 'mean' or 'last', got {output!r}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if updown not in UPDOWNS:
            raise ValueError(f"updown must be one of {UPDOWNS}, got {updown!r}")
        self.steps, self.pad, self.output, self.guide_channels = steps, kernel // 2, output, guide_channels
        self.fusion, self.shared, self.updown = fusion, bool(shared), updown
        if side_weight and fusion != "lesita":
            raise ValueError(f"side_weight weights the guide's term of LeSITA in the HR state: it needs "
                             f"fusion='lesita', got {fusion!r}")
        self.side_weight = bool(side_weight)
        size, pad = _updown_geometry(self.scale)
        skip_size = size if skip_kernel is None else int(skip_kernel)
        if skip_size < size or (skip_size - size) % 2:
            raise ValueError(f"skip_kernel must be {size} (the default) or larger by a multiple of 2 at scale "
                             f"{self.scale}, got {skip_kernel}")
        self.skip_kernel = skip_size
        k = atoms

        def filt(out_c, in_c):
            return _random_filters(out_c, in_c, kernel, std)

        # LR state: W (1 -> k), E (k -> 1), C (1 -> k) -- the ACSC step in the form of eq. (5) of 000. With
        # shared=False (chapter 7's ablation) steps 2..T have their own E, C, Q, R and thresholds (`later`, made
        # last, so that every parameter the two forms have in common starts from the same draw)
        self.W = filt(k, 1)
        ec = filt(1, k), filt(k, 1)
        if self.shared:   # registered in this order: checkpoints' optimizer states follow it
            self.E, self.C = ec
        self.gamma = nn.Parameter(torch.full((1, k, 1, 1), float(gamma0)))
        # HR state: Q (1 -> k), R (k -> 1), thresholds mu of LeSITA
        qr = filt(k, 1), filt(1, k)
        if self.shared:
            self.Q, self.R = qr
        self.mu = nn.Parameter(torch.full((1, k, 1, 1), float(mu0)))
        # fusion='none' (the ablation of chapter 7): no guide branch, the HR state is soft-thresholded
        self.guide_encoder = ACSC(guide_channels, k, kernel, guide_layers, gamma0=mu0, std=std) \
            if fusion != "none" else None
        if updown == "learned":   # the committed network: these draws in this order
            self.up = nn.ConvTranspose2d(k, k, size, stride=self.scale, padding=pad, groups=k, bias=False)
            self.down = nn.Conv2d(k, k, size, stride=self.scale, padding=pad, groups=k, bias=False)
        elif updown == "fixed":
            self.up, self.down = _FixedResample(k, self.scale, "up"), _FixedResample(k, self.scale, "down")
        else:
            self.up, self.down = _SubPixelUp(k, self.scale), _SubPixelDown(k, self.scale, std)
        # Skip starts as bilinear interpolation; a wider kernel (skip_kernel, chapter 7's x2 question) holds the
        # same bilinear taps in its centre and zeros around them -- the same function at the start, with more
        # input pixels per output pixel to learn from (at x2 bilinear reads 2 x 2 of them, bicubic 4 x 4). The
        # layer's own initial draw is made at the default size, so that later parameters start from the same draws
        edge = (skip_size - size) // 2
        self.skip = nn.ConvTranspose2d(1, 1, size, stride=self.scale, padding=pad, bias=False)
        if edge:
            with torch.random.fork_rng(devices=[]):
                self.skip = nn.ConvTranspose2d(1, 1, skip_size, stride=self.scale, padding=pad + edge, bias=False)
        bil = bilinear_kernel(size, self.scale)
        with torch.no_grad():
            self.skip.weight.zero_()
            self.skip.weight[0, 0, edge:edge + size, edge:edge + size] = bil
            if updown == "learned":   # copying draws nothing: the one draw here stays after the layers' own
                self.up.weight.copy_(bil.expand(k, 1, size, size))
                nn.init.normal_(self.down.weight, std=std)
        self.decoder = nn.Conv2d(k, 1, kernel, padding=self.pad, bias=False)
        nn.init.normal_(self.decoder.weight, std=std)
        self.later = None
        if not self.shared:   # step 2 starts from the draw the shared filters would have had
            self.later = nn.ModuleList(_StepWeights(k, kernel, gamma0, mu0, std, self.side_weight)
                                       for _ in range(steps - 1))
            with torch.no_grad():
                for n, v in zip(("E", "C", "Q", "R"), ec + qr):
                    getattr(self.later[0], n).copy_(v)
        # side_weight: LeSITA's |u - s| term gets a weight nu of its own per map (lesita_weighted), starting equal
        # to mu (the committed network's LeSITA); nu -> 0 switches the guide off in that map. Registered last (no
        # draw): every other parameter starts as without it
        self.nu = nn.Parameter(torch.full((1, k, 1, 1), float(mu0))) if self.side_weight else None

    @classmethod
    def from_dictionary(cls, filters: torch.Tensor, lam: float, scale: int, image_size, **kwargs):
        """A float64 network whose steps are the algorithm's: ``filters (1, k, p, p)`` a convolutional dictionary
        ``D`` with Lipschitz constant ``L`` on ``image_size``; ``W = C = Q = D~/L``, ``E = R = D`` and both
        thresholds ``lam / L``. Then :meth:`lr_step` (no feedback) is one ISTA step and :meth:`hr_step` driven by
        ``D~ x / L`` one l1-l1 proximal-gradient step (chapter 7, tests)."""
        from ..ops import ConvDictionary

        if not kwargs.get("shared", True):
            raise ValueError("from_dictionary ties every step to one dictionary: it needs shared=True")
        f = filters.double()
        net = cls(scale, atoms=f.shape[1], kernel=f.shape[-1], **kwargs).double()
        L = ConvDictionary(f).lipschitz(tuple(image_size))
        adj = f.flip(-1, -2).transpose(0, 1)   # conv2d weights of D^T
        with torch.no_grad():
            for w in (net.W, net.C, net.Q):
                w.copy_(adj / L)
            for w in (net.E, net.R):
                w.copy_(f)
            net.gamma.fill_(lam / L)
            net.mu.fill_(lam / L)
        return net

    # -- one step of each state (the unfolded iterations) ----------------------------------------------
    def step_weights(self, t: int):
        """What holds the ``E, C, gamma, Q, R, mu`` of step ``t = 2..T``: the network itself when the weights are
        shared, else that step's own :class:`_StepWeights`."""
        if not 2 <= t <= self.steps:
            raise ValueError(f"steps 2..{self.steps} have recurrent weights, got step {t}")
        return self if self.later is None else self.later[t - 2]

    def lr_step(self, l: torch.Tensor, wy: torch.Tensor, feedback=None, w=None, z_lr=None) -> torch.Tensor:
        """``phi_gamma(l - C * (E * l) + W*y + feedback)``; ``wy`` is ``W * y`` (computed once); ``w`` holds
        ``E, C, gamma`` (default: the shared ones); with LR-grid guide codes ``z_lr`` (``fusion='lr'`` or
        ``'both'``) LeSITA ``xi_gamma(.; z_lr)`` instead of ``phi_gamma``."""
        w = self if w is None else w
        back = F.conv2d(conv2d_few_outputs(l, w.E, self.pad), w.C, padding=self.pad)
        v = l - back + wy
        if feedback is not None:
            v = v + feedback
        return self._shrink(v, z_lr, w.gamma)

    def hr_step(self, h: torch.Tensor, drive: torch.Tensor, z, w=None) -> torch.Tensor:
        """``xi_mu(h - Q * (R * h) + drive; z)`` -- one LMCSC stage (eq. (5) of 000) driven by ``Up(l_t)``; with
        ``z = None`` (``fusion='none'``) soft thresholding ``phi_mu`` instead of LeSITA; ``w`` holds ``Q, R, mu``
        and ``nu`` (``None`` without a side weight; default: the shared ones)."""
        w = self if w is None else w
        back = F.conv2d(conv2d_few_outputs(h, w.R, self.pad), w.Q, padding=self.pad)
        return self._shrink(h - back + drive, z, w.mu, w.nu)

    @staticmethod
    def _shrink(v: torch.Tensor, z, threshold: torch.Tensor, side=None) -> torch.Tensor:
        """Soft thresholding without guide codes ``z``; with them LeSITA, or with a side weight ``side`` (the
        ``nu`` of ``side_weight=True``) the prox of ``threshold |u| + side |u - z|``."""
        if z is None:
            return soft_threshold(v, threshold.clamp_min(0))
        if side is not None:
            return lesita_weighted(v, z, threshold.clamp_min(0), side.clamp_min(0))
        return lesita(v, z, threshold.clamp_min(0))

    def guide_codes(self, guide: torch.Tensor):
        """``(z, z_hr, z_lr)``: the guide's ACSC codes (``None`` without a guide branch) and what each state
        fuses: ``z`` itself in the HR state, ``z`` averaged over ``scale x scale`` blocks in the LR state, ``None``
        where a state does not fuse."""
        if self.guide_encoder is None:
            return None, None, None
        z = self.guide_encoder(guide)
        z_lr = F.avg_pool2d(z, self.scale) if self.fusion in ("lr", "both") else None
        return z, (z if self.fusion in ("lesita", "both") else None), z_lr

    # -- the network ----------------------------------------------------------------------------------
    def check_inputs(self, lr: torch.Tensor, guide: torch.Tensor) -> None:
        if lr.ndim != 4 or lr.shape[1] != 1:
            raise ValueError(f"the target must have shape (N, 1, h, w), got {tuple(lr.shape)}")
        if guide is None or guide.ndim != 4:
            raise ValueError("the recurrent coupled network needs a guide of shape (N, C, H, W)")
        if guide.shape[1] != self.guide_channels:
            raise ValueError(f"this network was built for {self.guide_channels}-channel guides, got "
                             f"{guide.shape[1]} channels")
        want = (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale)
        if tuple(guide.shape[-2:]) != want:
            raise ValueError(f"guide size {tuple(guide.shape[-2:])} must be scale x the target size "
                             f"{tuple(lr.shape[-2:])} = {want}")
        if guide.shape[0] != lr.shape[0]:
            raise ValueError(f"batch sizes differ: target {lr.shape[0]}, guide {guide.shape[0]}")

    def states(self, lr: torch.Tensor, guide: torch.Tensor):
        """``(ls, hs, z)``: the LR and HR states after every step and the guide's codes (interpretability)."""
        self.check_inputs(lr, guide)
        z, z_hr, z_lr = self.guide_codes(guide)
        wy = F.conv2d(lr, self.W, padding=self.pad)
        l = self._shrink(wy, z_lr, self.gamma)
        h = self._shrink(self.up(l), z_hr, self.mu, self.nu)   # step 1 from h_0 = 0: Q * (R * 0) vanishes
        ls, hs = [l], [h]
        for t in range(2, self.steps + 1):
            w = self.step_weights(t)
            l = self.lr_step(l, wy, self.down(h), w, z_lr)
            h = self.hr_step(h, self.up(l), z_hr, w)
            ls.append(l)
            hs.append(h)
        return ls, hs, z

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        _, hs, _ = self.states(lr, guide)
        code = torch.stack(hs).mean(0) if self.output == "mean" else hs[-1]
        return conv2d_few_outputs(code, self.decoder.weight, self.pad) + self.skip(lr)

    def step_outputs(self, lr: torch.Tensor, guide: torch.Tensor) -> list:
        """The image the network would output had it stopped after step ``t`` (``t = 1..T``): the decoder reads
        the mean of the HR states so far (``output='mean'``) or the latest one (``'last'``); the last entry is
        :meth:`forward`'s output. (Decoding a single intermediate state of a mean-output network asks the decoder
        for something it was never trained on.)"""
        _, hs, _ = self.states(lr, guide)
        skip = self.skip(lr)
        if self.output == "mean":
            return [self.decoder(torch.stack(hs[:t]).mean(0)) + skip for t in range(1, len(hs) + 1)]
        return [self.decoder(h) + skip for h in hs]

    def monitor(self) -> dict:
        out = {"mu_mean": float(self.mu.detach().clamp_min(0).mean()),
               "gamma_mean": float(self.gamma.detach().clamp_min(0).mean())}
        if self.nu is not None:
            out["nu_mean"] = float(self.nu.detach().clamp_min(0).mean())
        return out

    def extra_repr(self) -> str:
        # the weights' signature is built from this line: fusion is named only where it differs from LeSITA, so
        # that weights written before the option existed keep loading
        return (f"scale={self.scale}, steps={self.steps}, output={self.output}, guide_channels={self.guide_channels}"
                + ("" if self.fusion == "lesita" else f", fusion={self.fusion}")
                + ("" if self.shared else ", shared=False")
                + ("" if self.updown == "learned" else f", updown={self.updown}")
                + (", side_weight=True" if self.side_weight else "")
                + ("" if self.skip_kernel == _updown_geometry(self.scale)[0]
                   else f", skip_kernel={self.skip_kernel}"))


class RecurrentCascade(nn.Module):
    """``scale`` (a power of two) as repeated x2 steps of **one** :class:`RecurrentCoupledNet` at scale 2 (chapter
    7's ablation: x8 in one step or three x2 steps). Stage ``k`` super-resolves the previous stage's output by 2,
    guided by the HR guide brought to that stage's grid by MATLAB-style bicubic downscaling (the last stage reads
    the guide itself). Only the guide is resized: the target is never interpolated. The stages share their
    weights, so the cascade has the parameters of one x2 network."""

    def __init__(self, scale: int = 8, **kwargs):
        super().__init__()
        self.scale = check_scale(scale)
        stages = scale.bit_length() - 1
        if scale != 2 ** stages:
            raise ValueError(f"a cascade of x2 steps needs a power-of-two scale, got {scale}")
        self.stages = stages
        self.net = RecurrentCoupledNet(2, **kwargs)
        self.guide_channels = self.net.guide_channels

    def guides(self, lr: torch.Tensor, guide: torch.Tensor) -> list:
        """The guide on each stage's output grid (``lr`` size times 2, 4, ..., ``scale``)."""
        h, w = lr.shape[-2:]
        if guide is None or guide.ndim != 4 or tuple(guide.shape[-2:]) != (h * self.scale, w * self.scale):
            raise ValueError(f"guide size {None if guide is None else tuple(guide.shape[-2:])} must be scale x the "
                             f"target size {(h, w)} = {(h * self.scale, w * self.scale)}")
        return [imresize(guide, output_shape=(h * 2 ** k, w * 2 ** k)) for k in range(1, self.stages)] + [guide]

    def forward(self, lr: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        y = lr
        for g in self.guides(lr, guide):
            y = self.net(y, g)
        return y

    def monitor(self) -> dict:
        return self.net.monitor()

    def extra_repr(self) -> str:
        return f"scale={self.scale}, stages={self.stages} (x2 each, shared weights)"

