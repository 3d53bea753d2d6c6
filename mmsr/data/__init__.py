"""Data: pairs, the embedded default, loaders for the papers' datasets, downloads, and patch sampling.

Data knows layouts, splits and downloads; it never decides hyper-parameters.
"""
from .datasets import (CAVE_TEST, EPFL_NIR_TEST, LOADERS, data_root, load_cave, load_epfl_nir,
                       load_middlebury2005, load_pairs, load_ulb17vt, nir_pairs)
from .embedded import embedded_pairs, motorcycle_pair, synthetic_pair
from .io import read_image, to_gray
from .pairs import GuidedPair
from .patches import PatchSampler, PatchSet

__all__ = ["GuidedPair", "PatchSampler", "PatchSet", "read_image", "to_gray", "load_pairs", "load_epfl_nir",
           "load_cave", "load_middlebury2005", "load_ulb17vt", "nir_pairs", "data_root", "embedded_pairs",
           "synthetic_pair", "motorcycle_pair", "EPFL_NIR_TEST", "CAVE_TEST", "LOADERS"]
