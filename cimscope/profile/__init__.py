"""Measured GEMM/NonGEMM breakdowns and their join with the model (``cimscope profile``).

Modules: :mod:`~cimscope.profile.classes` (the counting rule on profiler events), :mod:`~.measure` (running
a model under torch.profiler, CPU or CUDA, eager or compiled), :mod:`~.modelled` (the modelled side:
``a100_like`` and the GPU execution model), :mod:`~.join` (measured beside modelled, per class and per call),
:mod:`~.run` (the study: :func:`profile_models`), :mod:`~.report` (tables, CSV, PNG, JSON).
"""
from cimscope.profile.classes import (MODULE_ANNOTATION, RUN_ANNOTATION, Grouping, OpRecord, ProfEvent,
                                      classify_kernel, group_events, is_op_event)
from cimscope.profile.measure import ModelProfile, check_options, profile_model, profile_module
from cimscope.profile.run import ModelRun, ProfileOptions, profile_document, profile_models

__all__ = ["MODULE_ANNOTATION", "RUN_ANNOTATION", "Grouping", "OpRecord", "ProfEvent", "classify_kernel",
           "group_events", "is_op_event", "ModelProfile", "check_options", "profile_model", "profile_module",
           "ModelRun", "ProfileOptions", "profile_document", "profile_models"]
