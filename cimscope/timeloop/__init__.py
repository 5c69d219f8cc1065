"""Timeloop/Accelergy v0.4 file formats, one module per document over one parsing module (``parsing``):
``arch``, ``problem``, ``mapping``, ``constraints``, ``ert`` (ERT/ART tables), ``inputs`` (a whole set of input
files); ERT/ART tables (``ert``), timeloop-model statistics and map files (``stats``), and the
real binaries (``binaries``). Nothing here needs Timeloop installed."""
from __future__ import annotations

from cimscope.timeloop.arch import arch_from_yaml, arch_to_yaml  # noqa: F401
from cimscope.timeloop.inputs import TimeloopInputs, inputs_to_yaml, load_inputs  # noqa: F401
from cimscope.timeloop.mapping import mapping_from_yaml, mapping_to_yaml  # noqa: F401
from cimscope.timeloop.parsing import load_yaml_files  # noqa: F401
from cimscope.timeloop.problem import problem_from_yaml, problem_to_yaml  # noqa: F401
from cimscope.timeloop.constraints import Constraints, LevelConstraint, constraints_from_yaml  # noqa: F401
from cimscope.timeloop.ert import apply_art, apply_ert, arch_to_art, arch_to_ert, load_art, load_ert  # noqa: F401

__all__ = [
    "TimeloopInputs", "load_inputs", "load_yaml_files", "arch_from_yaml", "arch_to_yaml", "problem_from_yaml",
    "problem_to_yaml", "mapping_from_yaml", "mapping_to_yaml", "inputs_to_yaml", "Constraints",
    "LevelConstraint", "constraints_from_yaml", "load_ert", "load_art", "apply_ert", "apply_art",
    "arch_to_ert", "arch_to_art",
]
