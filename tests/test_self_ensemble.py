"""Test-time self-ensemble (mmsr.models.self_ensemble): the group maps, and the guide turned with the target."""
import pytest
import torch
import torch.nn.functional as F

from mmsr.models import SRCNN
from mmsr.models.self_ensemble import SelfEnsemble, dihedral, dihedral_inverse, self_ensemble


def nearest_up(lr, scale=2):   # exactly equivariant under flips and quarter turns
    return F.interpolate(lr, scale_factor=scale, mode="nearest")


def test_dihedral_maps_are_eight_distinct_invertible_transforms():
    x = torch.rand(1, 2, 5, 7)   # odd, non-square: a wrong axis or a lost flip changes the shape or the values
    seen = []
    for k in range(8):
        y = dihedral(x, k)
        assert y.shape[-2:] == ((5, 7) if k % 2 == 0 else (7, 5))
        assert torch.equal(dihedral_inverse(y, k), x)
        assert not any(y.shape == s.shape and torch.equal(y, s) for s in seen)
        seen.append(y)
    for bad in (-1, 8, 2.0):
        with pytest.raises(ValueError, match="k: expected an integer in 0..7"):
            dihedral(x, bad)


def test_an_equivariant_model_is_unchanged_and_a_biased_one_is_averaged():
    lr = torch.rand(1, 1, 5, 7)
    assert torch.allclose(self_ensemble(lambda x, g: nearest_up(x), lr, None), nearest_up(lr))
    # a model with an orientation (adds a left-to-right ramp): the ensemble averages the ramp away
    def ramp(x, g):
        up = nearest_up(x)
        return up + torch.linspace(0, 1, up.shape[-1]).view(1, 1, 1, -1)
    out = self_ensemble(ramp, lr, None)
    assert not torch.allclose(out, ramp(lr, None), atol=1e-3)
    assert torch.allclose(out, nearest_up(lr) + 0.5, atol=1e-5)   # each flip/turn pairs a ramp with its mirror
    med = self_ensemble(ramp, lr, None, reduce="median")
    assert med.shape == out.shape and not torch.allclose(med, out, atol=1e-4)
    with pytest.raises(ValueError, match="reduce"):
        self_ensemble(ramp, lr, None, reduce="max")


def test_the_guide_is_turned_with_the_target():
    lr, guide = torch.rand(1, 1, 5, 7), torch.rand(1, 3, 10, 14)
    seen = []
    def copy_guide(x, g):   # registered pair in, registered pair out: the output is the guide's first channel
        assert g.shape[-2:] == tuple(2 * n for n in x.shape[-2:])
        seen.append(g)
        return g[:, :1]
    out = self_ensemble(copy_guide, lr, guide)
    assert torch.allclose(out, guide[:, :1]) and len(seen) == 8   # a guide not turned back would blur this


def test_wrapper_keeps_the_model_its_parameters_and_the_output_size():
    torch.manual_seed(0)
    net = SRCNN(scale=2).eval()
    wrapped = SelfEnsemble(net)
    assert [p for p in wrapped.parameters()] == [p for p in net.parameters()]
    lr, guide = torch.rand(1, 1, 9, 11), torch.rand(1, 1, 18, 22)
    with torch.no_grad():
        one, ens = net(lr, guide), wrapped(lr, guide)
    assert ens.shape == one.shape == (1, 1, 18, 22) and not torch.allclose(ens, one)
    with pytest.raises(ValueError, match="reduce"):
        SelfEnsemble(net, reduce="mode")
