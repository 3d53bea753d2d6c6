"""Operators of the optimisation problems: shrinkage/proximal maps, dictionaries, and ISTA/FISTA solvers."""
from .operators import ConvDictionary, MatrixDictionary, power_iteration
from .shrinkage import (lesita, lesita_piecewise, lesita_weighted, prox_l1l1_bruteforce, prox_l1l1_objective,
                        soft_threshold)
from .solvers import SolverResult, fista, ista, objective

__all__ = ["soft_threshold", "lesita", "lesita_piecewise", "lesita_weighted", "prox_l1l1_bruteforce",
           "prox_l1l1_objective", "ConvDictionary", "MatrixDictionary", "power_iteration", "ista", "fista",
           "objective", "SolverResult"]
