"""CiM mapping (WWW weight-stationary dataflow), CiM latency post-processing, SIMT costs and the roofline,
checked against numbers derived by hand."""
import math

import pytest

from cimscope import ir
from cimscope.arch.placements import place
from cimscope.gpu.roofline import roofline_s, unique_bytes
from cimscope.gpu.simt import StreamLevel, simt_cost
from cimscope.pipeline.cim_latency import postprocess
from cimscope.pipeline.cim_map import CimOptions, cim_mapping, classify_dims
from cimscope.errors import MappingError
from cimscope.evaluate import gemm_op


def _conv(C, K, R, S, P, Q, stride=1):
    return ir.Op(
        name="conv", target="aten.convolution.default", module="m", op_class="GEMM", kind="conv",
        dims={"N": 1, "C": C, "K": K, "R": R, "S": S, "P": P, "Q": Q},
        tensors=[ir.Tensor("Inputs", "input", [[("N", 1)], [("C", 1)], [("R", 1), ("P", "Wstride")],
                                               [("S", 1), ("Q", "Hstride")]], 8),
                 ir.Tensor("Weights", "weight", [[("C", 1)], [("K", 1)], [("R", 1)], [("S", 1)]], 8),
                 ir.Tensor("Outputs", "output", [[("N", 1)], [("K", 1)], [("Q", 1)], [("P", 1)]], 8, True)],
        coefficients={"Wstride": stride, "Hstride": stride}, macs=C * K * R * S * P * Q)


def test_dimension_roles():
    r = classify_dims(_conv(64, 128, 3, 3, 28, 28).to_problem())
    assert set(r.reduction) == {"C", "R", "S"} and r.out_channels == ["K"] and set(r.streaming) == {"N", "P", "Q"}
    g = classify_dims(gemm_op(512, 1024, 4096).to_problem())
    assert g.reduction == ["K"] and g.out_channels == ["N"] and g.streaming == ["M"] and g.blocks == []


def _factors(mapping, dim):
    return [(lm.target, lm.temporal_factors.get(dim, 1), lm.spatial_factors.get(dim, 1)) for lm in mapping.levels]


def test_bert_large_gemm_on_www_sm_rf_analog6T():
    """512x1024x1024 on 3 analog6T arrays (64x4 cells, 16 weights each): by hand, K=1024 -> 64 rows x 16,
    N=1024 -> 4 columns x 2 arrays (the third cannot take a whole factor) x 16 cell slots x 8 tiles."""
    pa = place("a100_sm", "rf", "analog6T")
    mapping, info = cim_mapping(gemm_op(512, 1024, 1024).to_problem(), pa.gemm)
    assert (info.rows_used, info.cols_used, info.arrays_used, info.copies) == (64, 4, 2, 1)
    assert info.cell_factors == {"N": 16}
    assert info.temporal_steps == 512 * 16 * 8 * 16          # M x cell N x N tiles x K tiles
    # every wave of every used array does Rp x Cp = 256 MACs
    assert info.temporal_steps * 256 * info.arrays_used == 512 * 1024 * 1024
    assert info.weight_tiles == 8 * 16
    # perfect factorisation: the factors of each dimension multiply to its size
    for d, size in (("M", 512), ("N", 1024), ("K", 1024)):
        assert math.prod(t * s for _, t, s in _factors(mapping, d)) == size
    assert [lm.target for lm in mapping.levels] == ["DRAM", "SMEM", "CiM_RF_arrays", "CiM_RF_out", "CiM_RF_in",
                                                    "CiM_RF"]
    assert mapping.for_level("CiM_RF_out").keep == ["Outputs"] and mapping.for_level("CiM_RF_in").keep == ["Inputs"]
    smem = mapping.for_level("SMEM")
    assert smem.bypass == ["Weights"] and set(smem.keep) == {"Inputs", "Outputs"}
    assert mapping.for_level("CiM_RF").keep == ["Weights"]


def test_weight_stationary_only_reports_missing_capacity():
    pa = place("a100_sm", "rf", "analog6T")      # 3 arrays x 64x4x16 weights = 12,288 B
    with pytest.raises(MappingError, match=r"missing 1,036,288 B"):
        cim_mapping(gemm_op(512, 1024, 1024).to_problem(), pa.gemm, CimOptions(weight_reload=False))
    # a GEMM whose 64x64 weights fit is fine
    _, info = cim_mapping(gemm_op(128, 64, 64).to_problem(), pa.gemm, CimOptions(weight_reload=False))
    assert info.weight_tiles == 1


def test_duplication_and_interleaving():
    pa = place("a100_sm", "smem", "analog6T")    # 48 arrays
    prob = gemm_op(1024, 4, 64).to_problem()     # weights fill exactly one array's 64 x 4 cells
    _, dup = cim_mapping(prob, pa.gemm)
    assert dup.arrays_used == 1 and dup.copies == 32 and dup.temporal_steps == 1024 // 32
    _, nodup = cim_mapping(prob, pa.gemm, CimOptions(duplicate=False))
    assert nodup.copies == 1 and nodup.temporal_steps == 1024
    prob = gemm_op(16, 64, 64).to_problem()      # 16 column groups of 4 output channels
    _, il = cim_mapping(prob, pa.gemm, CimOptions(duplicate=False))
    _, packed = cim_mapping(prob, pa.gemm, CimOptions(interleave=False, duplicate=False))
    assert (il.arrays_used, il.temporal_steps) == (16, 16)             # one wave per row of M per array
    assert (packed.arrays_used, packed.temporal_steps) == (1, 16 * 16)  # the 16 groups share one array's slots


def test_conv_mapping_factors_its_reduction_over_rows():
    pa = place("a100_like", "smem", "digital6T")     # 256 x 16 cells per array
    op = _conv(64, 64, 3, 3, 56, 56)
    mapping, info = cim_mapping(op.to_problem(), pa.gemm)
    assert info.rows_used <= 256 and info.rows_used == 64 * 3       # C=64 x R=3 fill 192 of 256 rows
    assert info.cols_used == 16
    for d, size in op.dims.items():
        assert math.prod(t * s for _, t, s in _factors(mapping, d)) == size


def test_postprocess_applies_wave_latency_and_write_stalls():
    pa = place("a100_sm", "rf", "analog6T")
    mapping, info = cim_mapping(gemm_op(512, 1024, 1024).to_problem(), pa.gemm)
    cim = pa.gemm.levels[-1].name
    fills = 1024 * 1024                                      # every weight written once
    raw = ir.Result(energy_pJ=1.0, cycles=1000.0, computes=512 * 1024 * 1024, utilization=1.0,
                    energy_pJ_per_level={}, accesses={cim: {"Weights": ir.DataspaceAccesses(fills=fills)}})
    out = postprocess(raw, pa.gemm, info)
    waves = info.temporal_steps * 9                          # 9 cycles per analog6T wave at 45 nm / 1 GHz
    writes = fills / 2 * 1.0                                 # per busy array, one word per 1 ns cycle (cim_macro)
    assert out.cycles == pytest.approx(waves + writes)
    assert out.extra["cim"]["bound"] == "cim"
    bw_bound = ir.Result(energy_pJ=1.0, cycles=1e9, computes=1.0, utilization=1.0, energy_pJ_per_level={},
                         accesses={cim: {"Weights": ir.DataspaceAccesses(fills=fills)}})
    assert postprocess(bw_bound, pa.gemm, info).cycles == 1e9


def _levels():
    # DRAM, an on-chip buffer of 1000 B, a register file: hand-picked energies/bandwidths (B per cycle)
    return [StreamLevel("DRAM", None, 10.0, 10.0, 8.0, 8.0),
            StreamLevel("BUF", 1000.0, 100.0, 50.0, 1.0, 2.0),
            StreamLevel("RF", 64.0, 1000.0, 1000.0, 0.5, 0.5)]


def _elementwise(nbytes_in, nbytes_out, ops):
    return ir.Op(name="add", target="aten.add.Tensor", module="", op_class="arithmetic", kind="elementwise",
                 dims={"A": max(1, nbytes_out)}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                                          ir.Tensor("Outputs", "output", [[("A", 1)]], 8)],
                 elem_ops=ops, ops_per_element=1.0, bytes_read=nbytes_in, bytes_written=nbytes_out)


def test_simt_streams_from_the_buffer_that_holds_it():
    op = _elementwise(400, 200, 600)
    c = simt_cost(op, _levels(), lanes=4, lane_op_pJ=0.1)
    # BUF: 400 B read x 1 + 200 B written x 2; RF: 400 x (0.5 + 0.5) + 200 x (0.5 + 0.5); lanes 600 x 0.1
    assert c.energy_pJ_per_level == pytest.approx({"BUF": 800.0, "RF": 600.0, "SIMT": 60.0})
    # lanes 600 / 4 = 150 cycles; BUF 400/100 = 4, 200/50 = 4 -> lane bound
    assert c.cycles == 150.0 and c.bound == "lanes" and c.stream_level == "BUF"
    big = simt_cost(_elementwise(4000, 2000, 10), _levels(), lanes=4, lane_op_pJ=0.1)
    assert big.stream_level == "DRAM" and big.cycles == 400.0           # 4000 B / 10 B per cycle
    assert big.energy_pJ_per_level["DRAM"] == pytest.approx(4000 * 8 + 2000 * 8)


def test_simt_zero_byte_alias_costs_nothing_and_says_so():
    c = simt_cost(_elementwise(0, 0, 0), _levels(), lanes=4, lane_op_pJ=0.1)
    assert c.energy_pJ == 0 and c.cycles == 0 and "costs 0" in c.note
    copy = simt_cost(_elementwise(300, 300, 0), _levels(), lanes=4, lane_op_pJ=0.1)
    assert copy.energy_pJ > 0 and copy.cycles == 6.0 and "copy" in copy.note     # 300 B / 50 B per cycle


def test_a100_roofline_by_hand():
    op = gemm_op(512, 1024, 1024)
    assert unique_bytes(op) == 512 * 1024 + 1024 * 1024 + 512 * 1024
    # compute: 2 x 536,870,912 / 624e12 = 1.7207 us > memory: 2,097,152 B / 1555e9 = 1.3486 us
    assert roofline_s(op) == pytest.approx(2 * 512 * 1024 * 1024 / 624e12)
    small = gemm_op(1, 1000, 2048)              # the ResNet-50 classifier at batch 1: memory bound
    assert roofline_s(small) == pytest.approx((2048 + 2048 * 1000 + 1000) / 1555e9)


def test_cim_inputs_round_trip_through_timeloop_yaml():
    """What the timeloop engine writes for a CiM configuration (architecture, ERT, mapping as v0.4 YAML) reads
    back to the same counts, energy and cycles in the builtin model."""
    import yaml
    from cimscope.model import evaluate
    from cimscope.timeloop import arch_to_ert
    from cimscope.timeloop.ert import apply_ert, ert_table
    from cimscope.timeloop.yaml_io import arch_from_yaml, inputs_to_yaml, mapping_from_yaml
    pa = place("a100_like", "rf", "analog6T")
    prob = gemm_op(128, 768, 768).to_problem()
    mapping, _ = cim_mapping(prob, pa.gemm)
    doc = yaml.safe_load(yaml.safe_dump(inputs_to_yaml(pa.gemm, prob, mapping)))
    back = arch_from_yaml(doc["architecture"])
    apply_ert(back, ert_table(arch_to_ert(pa.gemm)))
    r1 = evaluate(prob, pa.gemm, mapping)
    r2 = evaluate(prob, back, mapping_from_yaml(doc["mapping"], back, prob))
    assert [lv.name for lv in back.levels] == [lv.name for lv in pa.gemm.levels]
    assert r2.energy_pJ == pytest.approx(r1.energy_pJ) and r2.cycles == r1.cycles
    assert r1.computes == 128 * 768 * 768
