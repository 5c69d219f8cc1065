"""Former home of the CiM mapping, CiM latency, SIMT cost and A100 roofline; they now live in
:mod:`cimscope.pipeline.cim_map`, :mod:`cimscope.pipeline.cim_latency`, :mod:`cimscope.gpu.simt` and
:mod:`cimscope.gpu.roofline`. These names stay importable for callers outside the evaluation layer."""
from cimscope.gpu.roofline import A100_HBM_BYTES_PER_S, A100_PEAK_OPS, distinct_words, roofline_s, unique_bytes
from cimscope.gpu.simt import SimtCost, StreamLevel, simt_cost, stream_levels
from cimscope.pipeline.candidates import CimCandidate, padded_cim_mappings
from cimscope.pipeline.cim_latency import postprocess
from cimscope.pipeline.cim_map import (VARIANTS, CimMappingInfo, CimOptions, DimRoles, Variant, cim_mapping,
                                       cim_mappings, classify_dims)
from cimscope.pipeline.factors import best_product, divisors, tile_words

__all__ = ["A100_HBM_BYTES_PER_S", "A100_PEAK_OPS", "distinct_words", "roofline_s", "unique_bytes", "SimtCost",
           "StreamLevel", "simt_cost", "stream_levels", "CimCandidate", "padded_cim_mappings", "postprocess",
           "VARIANTS", "CimMappingInfo", "CimOptions", "DimRoles", "Variant", "best_product", "cim_mapping",
           "cim_mappings", "classify_dims", "divisors", "tile_words"]
