"""Candidates pass: the problems and mappings worth scoring for one GEMM operator.

* CiM: the WWW priority mapping in its variants (:data:`cimscope.pipeline.cim_map.VARIANTS`) of the problem
  and of each padded version of it (:func:`cimscope.padding.candidate_paddings`: tile quantization, a
  dimension of prime size, e.g. 197 tokens, cannot fill the Cp columns or the arrays otherwise). Padded MACs
  and padded weights are real work (computed, written, moved).
* Baseline: the problem and its padded versions; the engine's mapper maps each.

The unpadded problem comes first, so it wins ties in the reducer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from cimscope import ir
from cimscope.errors import MappingError
from cimscope.padding import candidate_paddings, padding_info
from cimscope.pipeline.cim_map import CimMappingInfo, CimOptions, cim_mappings


@dataclass
class CimCandidate:
    """One CiM candidate: the problem actually mapped (``problem``, padded or not), what padding added
    (``padding``: :func:`cimscope.padding.padding_info`, None when unpadded), and the mapping with its info."""

    problem: ir.Problem
    padding: Optional[dict]
    mapping: ir.Mapping
    info: CimMappingInfo


def problems(problem: ir.Problem, arch: ir.Arch) -> list[ir.Problem]:
    """``problem`` and its padded versions for ``arch`` (unpadded first)."""
    return [problem] + [pp for pp, _ in candidate_paddings(problem, arch)]


def padded_cim_mappings(problem: ir.Problem, arch: ir.Arch, options: CimOptions = CimOptions()
                        ) -> list[CimCandidate]:
    """The CiM mappings of ``problem`` and of each padded version of it (see the module doc). MappingError
    only when no candidate maps (the unpadded problem's error)."""
    out: list[CimCandidate] = []
    first_error = None
    for p in problems(problem, arch):
        try:
            maps = cim_mappings(p, arch, options)
        except MappingError as exc:
            first_error = first_error or exc
            continue
        info = padding_info(problem, p)
        out.extend(CimCandidate(p, info, m, i) for m, i in maps)
    if not out:
        raise first_error
    return out


def padded_problems_tried(cands: list[CimCandidate]) -> int:
    """Distinct padded problems among ``cands`` (the unpadded one not counted)."""
    return len({repr(sorted(c.problem.dims.items())) for c in cands}) - 1
