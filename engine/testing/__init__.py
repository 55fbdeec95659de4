"""Tools for testing gradients from any test suite (standard library only).

- :func:`numeric_grad`: derivatives by finite differences with a *relative* step
  (:mod:`engine.testing.numeric`).
- :func:`gradcheck`: the engine's gradients against numeric ones, plus probes for the classic
  backward-pass bugs (:mod:`engine.testing.checks`); its report is a :class:`GradcheckResult`
  (:mod:`engine.testing.report`); on failure it names the node whose local derivative is wrong.
- :func:`gradgradcheck`: second derivatives (``backward(create_graph=True)`` and a second pass)
  against differences of the first, with gradcheck's report; the culprit is the node whose rule
  gives a wrong second derivative (:mod:`engine.testing.second_order`).
- :func:`check_local`: that diagnosis on its own, every node's rule against its op's forward
  (:mod:`engine.testing.culprits`).
- :func:`assert_grads_match_numeric` and :func:`assert_grads_match_torch`
  (:mod:`engine.testing.pytorch`): one-line assertions.
- :func:`registered` and :func:`planted`: a user op, or a bug planted in an op, for the length of
  a ``with`` block (:mod:`engine.testing.contexts`).
"""

from engine.testing.checks import assert_grads_match_numeric, gradcheck
from engine.testing.contexts import planted, registered
from engine.testing.culprits import LocalMismatch, check_local
from engine.testing.numeric import METHODS, numeric_grad
from engine.testing.pytorch import assert_grads_match_torch
from engine.testing.report import (
    KINK,
    MISMATCH,
    MISSING_CHAIN_RULE,
    NOT_REENTRANT,
    STALE_INTERIOR_GRADS,
    Culprit,
    Failure,
    GradcheckError,
    GradcheckResult,
    Row,
)
from engine.testing.second_order import assert_second_derivatives_match_numeric, gradgradcheck

__all__ = [
    "KINK", "METHODS", "MISMATCH", "MISSING_CHAIN_RULE", "NOT_REENTRANT", "STALE_INTERIOR_GRADS",
    "Culprit", "Failure", "GradcheckError", "GradcheckResult", "LocalMismatch", "Row",
    "assert_grads_match_numeric", "assert_grads_match_torch",
    "assert_second_derivatives_match_numeric", "check_local", "gradcheck", "gradgradcheck",
    "numeric_grad", "planted", "registered",
]
