"""mmsr: deep unfolding for guided (multimodal) image super-resolution -- the library behind the book.

Layers, bottom-up: ``checks``, ``degrade``, ``metrics``, ``data``, ``plot`` (independent leaves); ``ops``
(shrinkage, proximal operators, solvers); ``models``; ``training``; ``evaluate``; ``recipes`` (run modes ->
settings) and ``reproduce`` (paper tables).
"""
from .runtime import describe_path, get_mode, in_colab, results_dir, seed_everything, try_gpu

__version__ = "0.1.0"
__all__ = ["get_mode", "try_gpu", "seed_everything", "in_colab", "results_dir", "describe_path", "__version__"]
