"""Timeloop v0.4 inputs of a ``www`` evaluation, for the real timeloop-model / timeloop-mapper.

Per GEMM and configuration a folder with ``input.yaml`` (architecture, problem, the mapping cimscope evaluated
and, for the baseline, the artifact's mapspace constraints) and ``ert.yaml`` (the energies of
:mod:`cimscope.www.ert`): ``timeloop-model input.yaml ert.yaml`` reproduces the engine's figures, and the
baseline's folder runs under ``timeloop-mapper`` too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import yaml

from cimscope.atomic import write_text
from cimscope.timeloop import arch_to_ert, constraints_from_yaml, inputs_to_yaml
from cimscope.www import arch as www_arch
from cimscope.www.methodology import WwwResult, gemm_problem


def folder_name(r: WwwResult) -> str:
    config = "tensor_core_like" if r.placement == "none" else f"{r.placement}_compute_{r.primitive}"
    return f"{config}/{r.M}_{r.N}_{r.K}"


def write_inputs(r: WwwResult, out_dir: Union[str, Path]) -> Path:
    """Write ``r``'s Timeloop inputs under ``out_dir/<config>/<M>_<N>_<K>/``; returns the folder."""
    if r.placement == "none":
        arch = www_arch.baseline_arch()
        m, n, k = (int(x) for x in (r.padded_to or f"{r.M}x{r.N}x{r.K}").split("x"))
        problem = gemm_problem(m, n, k)
        cons = constraints_from_yaml({"mapspace_constraints": {"targets": www_arch.baseline_constraints()}},
                                     arch, problem)
    else:
        arch = www_arch.cim_arch(r.placement, r.primitive)
        problem, cons = gemm_problem(r.M, r.N, r.K), None
    folder = Path(out_dir) / folder_name(r)
    write_text(folder / "input.yaml", yaml.safe_dump(inputs_to_yaml(arch, problem, r.mapping, cons),
                                                     sort_keys=False))
    write_text(folder / "ert.yaml", yaml.safe_dump(arch_to_ert(arch), sort_keys=False))
    return folder
