"""BF-IMNA: per-layer mixed precision on Associative Processors (Rakka et al., arXiv 2411.01417), static and
dynamic; one package (DESIGN.md):

* :mod:`~cimscope.bitfluid.precision`: precision configurations (int N, HAWQ-V3, YAML files; pydantic
  schemas) and their binding to a workload's GEMM layers;
* :mod:`~cimscope.bitfluid.operators`: which AP algorithm runs each NonGEMM operator (taxonomy names);
* :mod:`~cimscope.bitfluid.gemm`, :mod:`~cimscope.bitfluid.nongemm`: the AP mapping and cost of one operator
  (:class:`~cimscope.bitfluid.cost.LayerCost`);
* :mod:`~cimscope.bitfluid.network`: a whole inference (:func:`evaluate`) and dynamic sequences;
* :mod:`~cimscope.bitfluid.sweep`: the models x configs x cells x Vdd grid of `cimscope bitfluid`;
* :mod:`~cimscope.bitfluid.report`, :mod:`~cimscope.bitfluid.plots`: rows, CSV, tables and PNGs.

Data flow: ``Workload`` (:func:`cimscope.workloads.export_model`) + :class:`PrecisionConfig` +
:class:`cimscope.arch.bf_imna.BfImnaArch` -> :func:`evaluate` -> :class:`NetworkCost`.
"""
from cimscope.bitfluid.cost import LayerCost
from cimscope.bitfluid.gemm import PACKINGS, cost_gemm, gemm_shape, max_pairs_per_row
from cimscope.bitfluid.network import DynamicCost, NetworkCost, evaluate, evaluate_dynamic, pick_sequence
from cimscope.bitfluid.nongemm import cost_nongemm, lut_passes
from cimscope.bitfluid.plots import plot_accuracy_vs_edp, plot_sweep
from cimscope.bitfluid.precision import (BIT_RANGE, HAWQ_NAME, LayerPrecision, PrecisionConfig, bind,
                                         configs_from_file, gemm_layers, hawq_to_module, hawq_v3_configs,
                                         layer_key, load_configs)
from cimscope.bitfluid.report import LAYER_FIELDS, ROW_FIELDS, layer_row, row, rows_to_csv
from cimscope.bitfluid.sweep import BitfluidOptions, Plan, SweepResult, make_options, plan, run

__all__ = ["BIT_RANGE", "HAWQ_NAME", "LAYER_FIELDS", "PACKINGS", "ROW_FIELDS", "BitfluidOptions", "DynamicCost",
           "LayerCost", "LayerPrecision", "NetworkCost", "Plan", "PrecisionConfig", "SweepResult", "bind",
           "configs_from_file", "cost_gemm", "cost_nongemm", "evaluate", "evaluate_dynamic", "gemm_layers",
           "gemm_shape", "hawq_to_module", "hawq_v3_configs", "layer_key", "layer_row", "load_configs",
           "lut_passes", "make_options", "max_pairs_per_row", "pick_sequence", "plan", "plot_accuracy_vs_edp",
           "plot_sweep", "row", "rows_to_csv", "run"]
