"""The mean of several models' outputs (mmsr.models.model_mean): an exact average, the guide passed on, and
refusals of what is not a mean of models."""
import pytest
import torch

from mmsr.models import SRCNN
from mmsr.models.model_mean import MeanOfModels


class Shift(torch.nn.Module):
    """The LR input plus a constant, plus the guide's mean where a guide is given."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, lr, guide=None):
        return lr + self.c + (0 if guide is None else guide.mean())


def test_the_mean_is_the_average_of_the_members_outputs_and_each_gets_the_guide():
    lr, guide = torch.rand(1, 1, 5, 7), torch.rand(1, 3, 5, 7)
    m = MeanOfModels([Shift(0.1), Shift(0.3), Shift(-0.1)])
    assert torch.allclose(m(lr), lr + 0.1)
    assert torch.allclose(m(lr, guide), lr + 0.1 + guide.mean())


def test_a_mean_of_one_model_or_of_outputs_of_different_shapes_is_refused():
    with pytest.raises(ValueError, match="at least two models"):
        MeanOfModels([Shift(0.0)])

    class Crop(torch.nn.Module):
        def forward(self, lr, guide=None):
            return lr[..., 1:, :]

    with pytest.raises(ValueError, match="differ in shape"):
        MeanOfModels([Shift(0.0), Crop()])(torch.rand(1, 1, 5, 7))


def test_gradients_reach_every_member_and_the_wrapper_adds_no_parameters():
    a, b = SRCNN(), SRCNN()
    m = MeanOfModels([a, b])
    assert sum(p.numel() for p in m.parameters()) == 2 * sum(p.numel() for p in a.parameters())
    m(torch.rand(1, 1, 12, 12)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
