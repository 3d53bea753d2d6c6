"""Models: plain ``torch.nn.Module``s that take tensors and know nothing of files, datasets or run modes.

Every super-resolution model is called as ``model(lr, guide)`` with ``lr`` of shape ``(N, 1, h, w)`` and
``guide`` of shape ``(N, C, h*s, w*s)`` (values in [0, 1]) and returns ``(N, 1, h*s, w*s)``;
single-image models accept and ignore the guide.
"""
from .guided_filter import GuidedFilterUpsampler, box_filter, guided_filter, guided_upsample
from .acsc import ACSC
from .coista import CoISTA
from .detail_transfer import GuideDetailTransfer
from .cscn import CSCN
from .djf import DJF
from .lista import LISTA
from .lmcsc import LMCSCEncoder, LMCSCNet
from .recurrent import RecurrentCoupledNet
from .srcnn import SRCNN
from .srfbn import SRFBN
from .vtsr import VTSRCNN, VTSRDiscriminator

__all__ = ["SRCNN", "SRFBN", "VTSRCNN", "VTSRDiscriminator", "CoISTA", "GuideDetailTransfer", "CSCN", "DJF", "LMCSCNet", "RecurrentCoupledNet", "LMCSCEncoder", "ACSC", "LISTA", "GuidedFilterUpsampler", "guided_filter", "guided_upsample", "box_filter", "build_model", "MODELS"]

MODELS = {"srcnn": SRCNN, "srfbn": SRFBN, "vtsrcnn": VTSRCNN, "coista": CoISTA, "cscn": CSCN, "djf": DJF, "lmcsc": LMCSCNet, "recurrent": RecurrentCoupledNet, "guided_filter": GuidedFilterUpsampler}


def build_model(name: str, **kwargs):
    """Build a model by name (see :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)
