"""Learnable spatial transformations for aligning a guide to its target: affine, CPAB and thin-plate spline.

All three act on *points* in normalised image coordinates (``x, y`` in ``[-1, 1]``, the convention of
:func:`torch.nn.functional.grid_sample` with ``align_corners=False``, so the same coordinates address the LR
target and the HR guide) and are initialised to the identity. A guide is deformed by sampling it at the
transformed positions of the output pixels (:func:`warp_image`): only the pixels that are needed are sampled,
so a random training patch of the deformed guide costs what the patch costs, and gradients reach the
transformation parameters through the sampling (Shacht et al., ``../shared/papers/003_*``, Sec. 3.1-3.2).

* :class:`AffineWarp`: the spatial-transformer layer of Jaderberg et al. -- ``p -> A p + b``.
* :class:`CPABWarp`: the integral of a continuous piecewise-affine (CPA) velocity field (Freifeld et al.'s
  CPAB transformations, the DDTN layer of 003). A CPA field on a triangulation is exactly the field that is
  linear on every triangle and continuous across edges, so it is fixed by its values at the triangle vertices;
  we parameterise it by those values (the same space as CPAB's null-space basis, in a basis one can read).
  The tessellation splits each of ``nx x ny`` square cells into four triangles through the cell centre. The
  velocity is integrated over unit time with fixed-step RK4 (:func:`integrate_velocity`), so the map is a
  diffeomorphism up to the integration error and its inverse is the integral of ``-v`` (tested). CPAB's
  closed-form per-cell integration is not used: RK4 is simpler and differentiable by autograd; during
  training the field is tabulated once per step on a fine grid and interpolated (see :meth:`CPABWarp.forward`).
* :class:`TPSWarp`: a thin-plate spline through ``k x k`` uniformly placed control points whose
  displacements are learned. The spline is linear in the displacements, so the ``(k^2+3)`` system is inverted
  once and every forward pass is a matrix product.
* :class:`DeformationStack`: a fixed initial affine (e.g. from :func:`mmsr.registration.register_global`)
  followed by the learned layers, coarse to fine: ``phi = R o A o C o T`` (TPS applied first to the output
  grid, the fixed registration last), each learned layer starting at the identity.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def identity_grid(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel centres of an ``height x width`` image as ``(H, W, 2)`` normalised ``(x, y)`` coordinates."""
    ys = (torch.arange(height, device=device, dtype=dtype) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=device, dtype=dtype) * 2 + 1) / width - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1)


def warp_image(image: torch.Tensor, points: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Sample ``image`` ``(N, C, H, W)`` at ``points`` ``(N, h, w, 2)`` (border values outside the frame).

    A batch of one on either side is broadcast to the other's batch size.
    """
    if points.shape[0] == 1 and image.shape[0] > 1:
        points = points.expand(image.shape[0], *points.shape[1:])
    elif image.shape[0] == 1 and points.shape[0] > 1:
        image = image.expand(points.shape[0], *image.shape[1:])
    return F.grid_sample(image, points.to(image.dtype), mode=mode, padding_mode="border", align_corners=False)


class AffineWarp(nn.Module):
    """``p -> A p + b`` with ``[A | b]`` a learnable ``2 x 3`` matrix, initialised to ``init`` (identity)."""

    def __init__(self, init: Optional[torch.Tensor] = None, learnable: bool = True):
        super().__init__()
        theta = torch.eye(2, 3) if init is None else torch.as_tensor(init, dtype=torch.float32).reshape(2, 3)
        if learnable:
            self.theta = nn.Parameter(theta.clone())
        else:
            self.register_buffer("theta", theta.clone())

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        th = self.theta.to(points.dtype)
        return points @ th[:, :2].T + th[:, 2]


# ------------------------------------------------------------------------------------------------- CPAB
class CPABWarp(nn.Module):
    """Integral of a continuous piecewise-affine velocity field on a triangulated ``ny x nx`` grid of cells.

    ``velocity`` holds ``(vertices, 2)`` values: the ``(ny+1)(nx+1)`` cell corners (row-major) then the
    ``ny*nx`` cell centres. With ``zero_boundary`` the corners on the frame are held at zero, so the frame maps
    onto itself (the global part of the motion is left to the affine layer).
    """

    def __init__(self, cells: Sequence[int] = (4, 4), steps: int = 8, zero_boundary: bool = True):
        super().__init__()
        self.ny, self.nx = int(cells[0]), int(cells[1])
        if self.ny < 1 or self.nx < 1:
            raise ValueError(f"cells must be positive, got {tuple(cells)}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.steps = int(steps)
        n_corner = (self.ny + 1) * (self.nx + 1)
        self.velocity = nn.Parameter(torch.zeros(n_corner + self.ny * self.nx, 2))
        mask = torch.ones(n_corner + self.ny * self.nx, 1)
        if zero_boundary:
            iy, ix = torch.meshgrid(torch.arange(self.ny + 1), torch.arange(self.nx + 1), indexing="ij")
            on_frame = (iy == 0) | (iy == self.ny) | (ix == 0) | (ix == self.nx)
            mask[:n_corner, 0] = (~on_frame).reshape(-1).float()
        self.register_buffer("mask", mask)

    def field(self, points: torch.Tensor, velocity: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The velocity at ``points`` (``(..., 2)``): linear inside each triangle, continuous everywhere."""
        v = (self.velocity if velocity is None else velocity) * self.mask
        v = v.to(points.dtype)
        nx, ny = self.nx, self.ny
        gx = ((points[..., 0].clamp(-1, 1) + 1) * 0.5 * nx)
        gy = ((points[..., 1].clamp(-1, 1) + 1) * 0.5 * ny)
        cx = gx.floor().clamp(0, nx - 1)
        cy = gy.floor().clamp(0, ny - 1)
        u, w = gx - cx, gy - cy  # local coordinates in [0, 1]^2
        cx, cy = cx.long(), cy.long()
        c00 = cy * (nx + 1) + cx
        c10, c01, c11 = c00 + 1, c00 + nx + 1, c00 + nx + 2
        centre = (ny + 1) * (nx + 1) + cy * nx + cx
        # which of the four triangles (through the centre) holds the point
        below, above_anti = w <= u, w <= 1 - u
        bottom = below & above_anti
        right = below & ~above_anti
        top = ~below & ~above_anti
        # barycentric weights of (first corner, second corner, centre) for each triangle type
        wa = torch.where(bottom, 1 - u - w, torch.where(right, u - w, torch.where(top, u + w - 1, w - u)))
        wb = torch.where(bottom, u - w, torch.where(right, u + w - 1, torch.where(top, w - u, 1 - w - u)))
        wc = torch.where(bottom, 2 * w, torch.where(right, 2 * (1 - u), torch.where(top, 2 * (1 - w), 2 * u)))
        ia = torch.where(bottom, c00, torch.where(right, c10, torch.where(top, c11, c01)))
        ib = torch.where(bottom, c10, torch.where(right, c11, torch.where(top, c01, c00)))
        return wa[..., None] * v[ia] + wb[..., None] * v[ib] + wc[..., None] * v[centre]

    def velocity_grid(self, velocity: Optional[torch.Tensor] = None, per_cell: int = 16) -> torch.Tensor:
        """The exact field on a grid with ``per_cell`` intervals per cell edge (cell edges and centres on
        grid nodes), spanning ``[-1, 1]^2`` corner to corner: ``(1, 2, G_y, G_x)``."""
        ys = torch.linspace(-1, 1, per_cell * self.ny + 1, device=self.velocity.device)
        xs = torch.linspace(-1, 1, per_cell * self.nx + 1, device=self.velocity.device)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        return self.field(torch.stack((gx, gy), dim=-1), velocity).permute(2, 0, 1)[None]

    def forward(self, points: torch.Tensor, inverse: bool = False, exact: bool = False) -> torch.Tensor:
        """Integrate the field (``-v`` with ``inverse``) from ``points``.

        ``exact``: evaluate the piecewise-affine field itself at every RK4 stage. Default: evaluate it once on a
        fine grid and interpolate it bilinearly during the integration (exact on the grid nodes; one
        ``grid_sample`` per stage instead of some thirty small operations, which matters on a GPU).
        """
        v = -self.velocity if inverse else self.velocity
        if exact:
            return integrate_velocity(lambda p: self.field(p, v), points, self.steps)
        vg = self.velocity_grid(v).to(points.dtype)
        return integrate_velocity(lambda p: sample_field(vg, p), points, self.steps)


def sample_field(field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear value at ``points`` (``(..., 2)``) of a 2-vector field tabulated corner to corner, ``(1, 2, Gy, Gx)``."""
    out = F.grid_sample(field, points.reshape(1, -1, 1, 2), mode="bilinear", padding_mode="border",
                        align_corners=True)
    return out[0, :, :, 0].T.reshape(points.shape)


def integrate_velocity(field, points: torch.Tensor, steps: int) -> torch.Tensor:
    """Solve ``dp/dt = field(p)`` from ``t = 0`` to ``1`` with ``steps`` classical Runge-Kutta steps."""
    h = 1.0 / steps
    p = points
    for _ in range(steps):
        k1 = field(p)
        k2 = field(p + 0.5 * h * k1)
        k3 = field(p + 0.5 * h * k2)
        k4 = field(p + h * k3)
        p = p + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return p


# -------------------------------------------------------------------------------------------------- TPS
def _tps_kernel(r2: torch.Tensor) -> torch.Tensor:
    """``U(r) = r^2 log r^2`` (0 at r = 0)."""
    return torch.where(r2 > 0, r2 * torch.log(r2.clamp_min(1e-12)), torch.zeros_like(r2))


class TPSWarp(nn.Module):
    """Thin-plate spline with ``k x k`` control points on ``[-1, 1]^2`` and learnable displacements (zero)."""

    def __init__(self, control: int = 4, span: float = 1.0):
        super().__init__()
        if control < 2:
            raise ValueError(f"control must be >= 2, got {control}")
        t = torch.linspace(-span, span, control, dtype=torch.float64)
        cy, cx = torch.meshgrid(t, t, indexing="ij")
        ctrl = torch.stack((cx.reshape(-1), cy.reshape(-1)), dim=-1)
        n = ctrl.shape[0]
        K = _tps_kernel(((ctrl[:, None] - ctrl[None]) ** 2).sum(-1))
        P = torch.cat((torch.ones(n, 1, dtype=torch.float64), ctrl), dim=1)
        L = torch.zeros(n + 3, n + 3, dtype=torch.float64)
        L[:n, :n], L[:n, n:], L[n:, :n] = K, P, P.T
        self.register_buffer("control", ctrl.float())
        self.register_buffer("solve", torch.linalg.inv(L)[:, :n].float())  # coefficients = solve @ displacement
        self.displacement = nn.Parameter(torch.zeros(n, 2))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        coef = (self.solve @ self.displacement).to(points.dtype)  # (n + 3, 2): kernel weights then affine
        flat = points.reshape(-1, 2)
        U = _tps_kernel(((flat[:, None] - self.control.to(points.dtype)[None]) ** 2).sum(-1))
        basis = torch.cat((U, torch.ones_like(flat[:, :1]), flat), dim=1)
        return points + (basis @ coef).reshape(points.shape)

    def extra_repr(self) -> str:
        return f"control_points={self.control.shape[0]}"


# ---------------------------------------------------------------------------------------------- the stack
LAYERS = ("affine", "cpab", "tps")


class DeformationStack(nn.Module):
    """``phi = R o A o C o T``: fixed registration ``R``, then the learned layers named in ``layers``.

    ``phi`` maps output (target-grid) coordinates to guide coordinates; the deformed guide is
    ``warp_image(guide, phi(grid))``. Layers not named are absent (the Fig. 11 ablation of 003).
    """

    def __init__(self, layers: Sequence[str] = LAYERS, initial: Optional[torch.Tensor] = None,
                 cpab_cells: Sequence[int] = (4, 4), cpab_steps: int = 8, tps_control: int = 4):
        super().__init__()
        unknown = set(layers) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown deformation layer(s) {sorted(unknown)}; expected some of {LAYERS}")
        self.layers = tuple(layers)
        self.initial = AffineWarp(initial, learnable=False)
        self.affine = AffineWarp() if "affine" in layers else None
        self.cpab = CPABWarp(cpab_cells, cpab_steps) if "cpab" in layers else None
        self.tps = TPSWarp(tps_control) if "tps" in layers else None

    def local(self, points: torch.Tensor, exact: bool = False) -> torch.Tensor:
        """The non-affine part ``C o T`` evaluated at ``points`` (``exact``: CPAB without the tabulated field)."""
        if self.tps is not None:
            points = self.tps(points)
        if self.cpab is not None:
            points = self.cpab(points, exact=exact)
        return points

    def local_field(self) -> torch.Tensor:
        """``C o T`` sampled on a ``(G, G)`` grid spanning ``[-1, 1]^2`` corner to corner, as ``(1, 2, G, G)``.

        ``G = 16 * cells + 1`` (16 samples per CPAB cell edge, cell edges on grid lines): the maps are smooth
        inside cells, so bilinear interpolation of this field is accurate to a fraction of a pixel for the
        deformations met in practice (tested), and the cost of a step no longer grows with the number of points
        sampled (a batch of patches, a whole image). Together with the tabulated CPAB velocity the error is a
        few percent of the displacement (0.1 px for a 3 px deformation; tested against ``exact=True``).
        """
        cells = max(self.cpab.ny, self.cpab.nx) if self.cpab is not None else 4
        g = 16 * cells + 1
        t = torch.linspace(-1, 1, g, device=self.initial.theta.device)
        gy, gx = torch.meshgrid(t, t, indexing="ij")
        grid = torch.stack((gx, gy), dim=-1)
        return self.local(grid).permute(2, 0, 1)[None]

    def forward(self, points: torch.Tensor, exact: bool = False) -> torch.Tensor:
        if self.tps is not None or self.cpab is not None:
            if exact:
                points = self.local(points, exact=True)
            else:
                points = sample_field(self.local_field().to(points.dtype), points)
        for layer in (self.affine, self.initial):
            if layer is not None:
                points = layer(points)
        return points

    def deform(self, guide: torch.Tensor, size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """The guide resampled on the deformed grid (of ``size``, default the guide's own size)."""
        h, w = size if size is not None else guide.shape[-2:]
        grid = identity_grid(h, w, device=guide.device)
        return warp_image(guide, self(grid)[None])

    def param_groups(self, lr: float, factors: dict) -> list[dict]:
        """Optimiser groups: each learned layer with ``lr * factors[name]`` (its own learning rate)."""
        groups = []
        for name in ("affine", "cpab", "tps"):
            layer = getattr(self, name)
            if layer is not None:
                groups.append({"params": list(layer.parameters()), "lr": lr * float(factors.get(name, 1.0)),
                               "name": name})
        return groups
