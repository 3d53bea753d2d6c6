"""Linear operators for sparse coding: a dense dictionary matrix, and a convolutional dictionary.

Both expose ``forward`` (``A x``), ``adjoint`` (``A^T y``) and ``lipschitz()`` (``L = ||A||_2^2``, the Lipschitz
constant of the gradient of ``1/2 ||y - A x||^2``), so the solvers of :mod:`mmsr.ops.solvers` run on either.

The convolutional dictionary is eq. (1) of 000: ``A u = sum_i D_i * u_i`` for ``k`` feature maps ``u_i`` of the
image's size, with zero padding that keeps the size (the papers' convention). :meth:`ConvDictionary.matrix`
builds the explicit matrix of eq. (2) -- a concatenation of (doubly block) Toeplitz matrices -- column by
column, to check the equivalence numerically on small images.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def power_iteration(forward, adjoint, x0: torch.Tensor, iters: int = 100) -> float:
    """Largest eigenvalue of ``A^T A`` by power iteration (an estimate of ``||A||_2^2`` from below)."""
    x = x0 / x0.norm()
    lam = 0.0
    for _ in range(iters):
        z = adjoint(forward(x))
        lam = float(z.norm())
        if lam == 0:
            return 0.0
        x = z / lam
    return lam


class MatrixDictionary:
    """``A`` as a dense matrix ``(m, n)`` or a batch ``(B, m, n)``; vectors are ``(..., n)``."""

    def __init__(self, A: torch.Tensor):
        if A.ndim not in (2, 3):
            raise ValueError(f"A must be (m, n) or (B, m, n), got shape {tuple(A.shape)}")
        self.A = A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.A @ x.unsqueeze(-1)).squeeze(-1)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return (self.A.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1)

    def lipschitz(self) -> torch.Tensor:
        """``||A||_2^2`` exactly (per matrix of a batch, shape ``(B, 1)``; a 0-d tensor for one matrix)."""
        sv = torch.linalg.matrix_norm(self.A, ord=2)
        return sv**2 if self.A.ndim == 2 else (sv**2)[:, None]


def conv_adjoint(y: torch.Tensor, filters: torch.Tensor, padding: int) -> torch.Tensor:
    """``F.conv_transpose2d(y, filters, padding=padding)`` (stride 1), computed as the ``conv2d`` with the filters
    flipped and their two channel axes swapped: the same linear map, but PyTorch's CPU transposed convolution
    copies its input first and took about 4x as long as this form (measured with PyTorch 2.13, 1 -> 64 maps on a
    340x512 image); the models' adjoint steps use it."""
    return F.conv2d(y, filters.flip(-1, -2).transpose(0, 1), padding=padding)


def conv2d_few_outputs(x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """``F.conv2d(x, weight, padding=padding)`` (stride 1, no bias). Without autograd, on the CPU and with at
    most 4 output channels -- the ``k -> 1`` synthesis steps of the unfolded networks -- it is computed as one
    matrix product giving each kernel tap's contribution, followed by shifted sums: the same values (to float
    rounding), about 9x faster than PyTorch's CPU convolution for 64 -> 1 maps with 5x5 kernels (measured with
    PyTorch 2.13), which handles so few output channels poorly. Training keeps ``F.conv2d``."""
    o, c, kh, kw = weight.shape
    if torch.is_grad_enabled() or x.device.type != "cpu" or o > 4 or x.dim() != 4:
        return F.conv2d(x, weight, padding=padding)
    n, _, h, w = x.shape
    out_h, out_w = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    taps = torch.matmul(weight.permute(0, 2, 3, 1).reshape(o * kh * kw, c), x.reshape(n, c, h * w))
    taps = F.pad(taps.view(n, o * kh * kw, h, w), (padding,) * 4).view(n, o, kh * kw, h + 2 * padding,
                                                                         w + 2 * padding)
    out = x.new_zeros(n, o, out_h, out_w)
    for i in range(kh):
        for j in range(kw):
            out += taps[:, :, i * kw + j, i:i + out_h, j:j + out_w]
    return out


class ConvDictionary:
    """``A u = sum_i D_i * u_i``: filters ``(C_out, k, p, p)`` (odd ``p``), codes ``(N, k, H, W)`` -> ``(N, C_out, H, W)``.

    ``*`` is PyTorch's cross-correlation with zero padding ``p // 2`` (a convolution with flipped filters; the
    distinction does not matter for learned filters and is fixed once here). The adjoint is the transposed
    convolution with the same padding.
    """

    def __init__(self, filters: torch.Tensor):
        if filters.ndim != 4 or filters.shape[-1] != filters.shape[-2] or filters.shape[-1] % 2 == 0:
            raise ValueError(f"filters must be (C_out, k, p, p) with odd p, got {tuple(filters.shape)}")
        self.filters = filters
        self.pad = filters.shape[-1] // 2

    @property
    def n_atoms(self) -> int:
        return self.filters.shape[1]

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return F.conv2d(u, self.filters, padding=self.pad)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return conv_adjoint(y, self.filters, self.pad)

    def lipschitz(self, shape=(1, 32, 32), iters: int = 200, seed: int = 0) -> float:
        """``||A||_2^2`` for codes of spatial size ``shape[-2:]`` by power iteration (+1 % safety margin)."""
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(1, self.n_atoms, *shape[-2:], generator=g, dtype=self.filters.dtype).to(self.filters.device)
        return 1.01 * power_iteration(self.forward, self.adjoint, x0, iters)

    def matrix(self, height: int, width: int) -> torch.Tensor:
        """The explicit matrix of eq. (2) of 000 for ``height x width`` images: ``(C_out H W, k H W)``.

        Column ``j`` is ``A`` applied to the ``j``-th unit code (feature map-major, then row, then column),
        so ``A_mat @ u.flatten() == forward(u).flatten()``.
        """
        n = self.n_atoms * height * width
        eye = torch.eye(n, dtype=self.filters.dtype, device=self.filters.device).reshape(n, self.n_atoms, height,
                                                                                         width)
        cols = self.forward(eye)  # (n, C_out, H, W)
        return cols.reshape(n, -1).T.contiguous()


def derivative_filters(size: int = 5) -> torch.Tensor:
    """A fixed, hand-made convolutional dictionary of 8 unit-norm ``size x size`` atoms (``(1, 8, p, p)``):
    a delta, first and fourth-order differences along rows and columns, a Sobel-like cross derivative, a
    smooth (box) atom and a smoothed derivative. Used by the theory chapters before dictionaries are learned."""
    if size != 5:
        raise ValueError("derivative_filters is defined for 5x5 atoms")
    base = torch.zeros(8, 5, 5, dtype=torch.float64)
    diff1 = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    diff4 = torch.tensor([1.0, -4.0, 6.0, -4.0, 1.0], dtype=torch.float64)
    sobel = torch.tensor([1.0, 2.0, 0.0, -2.0, -1.0], dtype=torch.float64)
    smooth = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64)
    base[0, 2, 2] = 1.0
    base[1, 2, 1:4] = diff1
    base[2, 1:4, 2] = diff1
    base[3, 2, :] = diff4
    base[4, :, 2] = diff4
    base[5] = torch.outer(sobel, sobel)
    base[6] = 1.0
    base[7] = torch.outer(smooth, -sobel)
    return (base / base.flatten(1).norm(dim=1)[:, None, None])[None]
