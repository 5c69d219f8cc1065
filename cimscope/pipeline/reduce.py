"""The one reducer: every candidate of an operator is scored by one objective and the best is kept.

Objective: EDP (energy x cycles; the baseline mapper's objective too). Ties go to the earlier candidate
(the unpadded problem comes first, then the mapping variants in :data:`cimscope.pipeline.cim_map.VARIANTS`
order).
"""
from __future__ import annotations

from typing import Iterable, Optional

from cimscope import ir


def edp(r: ir.Result) -> float:
    """The objective of one result: energy (pJ) x cycles."""
    return r.energy_pJ * r.cycles


def best_index(scores: Iterable[float]) -> Optional[int]:
    """Index of the lowest score (ties: the first); None when there is none or all are infinite/NaN."""
    best, at = None, None
    for i, s in enumerate(scores):
        s = float(s)
        if s != s or s == float("inf"):
            continue
        if best is None or s < best:
            best, at = s, i
    return at
