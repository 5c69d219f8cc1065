"""Compatibility names for code written against the former single ``yaml_io`` module. The documents now live
one module each (``parsing``, ``arch``, ``problem``, ``mapping``, ``constraints``, ``ert``, ``inputs``);
import from those. ``_load_one``, ``_perm_str`` and ``_collect_components`` remain for callers outside
cimscope/timeloop that still use them (mappers/timeloop_mapper.py, scripts/run_timeloop_model.py,
tests/test_timeloop_files.py)."""
from __future__ import annotations

from cimscope.timeloop.arch import (  # noqa: F401
    BUFFER_CLASSES, COMPUTE_CLASSES, arch_constraints_to_yaml, arch_from_yaml, arch_to_yaml, collect_components,
)
from cimscope.timeloop.inputs import (  # noqa: F401
    SPARSE_REFUSAL, TimeloopInputs, inputs_to_yaml, load_inputs, sparse_features,
)
from cimscope.timeloop.mapping import check_mapping_shape, mapping_from_yaml, mapping_to_yaml  # noqa: F401
from cimscope.timeloop.parsing import (  # noqa: F401
    bypass_directive, deep_merge, load_yaml, load_yaml_files, parse_factors, parse_name, perm_list, perm_str,
    split_dims,
)
from cimscope.timeloop.problem import problem_from_yaml, problem_to_yaml  # noqa: F401

_load_one = load_yaml
_collect_components = collect_components     # tests/test_timeloop_files.py reads the component walk
_perm_str = perm_str
