"""Layer -> AP mapping on BF-IMNA: a small conv at 2, 4 and 8 bits against hand-derived pass formulas,
NonGEMM operators (never dropped), row packing, splitting wide layers over CAPs, bad shapes."""
import pytest

from cimscope.bitfluid import cost_gemm, cost_nongemm
from cimscope.arch import bf_imna
from cimscope.errors import InputError, MappingError
from cimscope.ir import Op


def small_arch(**over):
    """1 cluster, 2 CAPs of 64 rows x 64 bits; per-bit figures given directly (no scaling): compare 1 fJ,
    write 2 fJ, read 0.5 fJ per bit per row, 1 ns compare and write; bus 0.1 pJ/bit at 64 bits/ns."""
    d = {"name": "t", "technology": {"cell": "sram", "node_nm": 16, "vdd_V": 0.85},
         "hierarchy": {"clusters": 1, "cluster": {"caps": 2, "maps": 2},
                       "cap": {"variant": "2d", "rows": 64, "columns": 64},
                       "map": {"variant": "1d", "rows": 64, "columns": 64}},
         "interconnect": {"bus_bits_per_cycle": 64, "bus_clock_GHz": 1.0, "bus_energy_pJ_per_bit": 0.1,
                          "bus_energy_node_nm": 16, "bus_energy_vdd_V": 0.85},
         "dram": {"pJ_per_bit": 8, "bandwidth_GBps": 32}, "options": {"row_packing": "dense"},
         "cell_overrides": {"compare_energy_fJ": 1, "write_energy_fJ": 2, "read_energy_fJ": 0.5,
                            "compare_latency_ns": 1, "write_latency_ns": 1}}
    for k, v in over.items():
        d[k] = v
    return bf_imna.resolve(bf_imna.config_from_dict(d))


def conv(C=2, K=3, R=3, P=4, module="c"):
    return Op(name=module, target="aten.convolution.default", module=module, op_class="GEMM", kind="conv",
              dims={"N": 1, "C": C, "K": K, "R": R, "S": R, "P": P, "Q": P}, tensors=[],
              macs=K * P * P * C * R * R, attrs={"groups": 1})


# Hand derivation for conv C=2, K=3, 3x3, 4x4 outputs: 48 outputs, L = 18 MACs each, a = w = b bits.
#   pair = 2b; Wout = 2b + ceil(log2 18) = 2b + 5; pairs per 64-bit row f_max = (64 - 2b - Wout - 1) // 2b
#   b=2: f_max 12 -> r = 2 rows/output, f = 9;  b=4: f_max 5 -> r = 4, f = 5;  b=8: f_max 1 -> r = 18, f = 1
#   rows = 48 r = 96 / 192 / 864; 2 CAPs x (64 // r) outputs per wave -> waves 1 / 2 / 8.
# Per-row energy (fJ) = key bits x 1 + written bits x 2 (SRAM: every active row):
#   mul(b,b): key bits b(16b+1), written 2b(4b+1) + 2b + 1; accumulate(W): key 12W, written 8W + 1
#   b=2: (66 + 2*41) + (108 + 2*73) = 402 per pair x 9 pairs x 96 rows            = 347328 fJ
#   b=4: (260 + 2*145) + (156 + 2*105) = 916 x 5 x 192                            = 879360 fJ
#   b=8: (1032 + 2*545) + (252 + 2*169) = 2712 x 1 x 864                          = 2343168 fJ
# Reduction stage on W bits (vertical copy + accumulate): key 14W, written 10W + 1 -> 34W + 2 fJ per row;
#   stage s on 48 ceil(r / 2^(s-1)) rows: b=2: 308 x 96 = 29568; b=4: 444 x (192 + 96) = 127872;
#   b=8: 716 x 48 x (18 + 9 + 5 + 3 + 2) = 1271616
# Post (per output): bias accumulate(W) + 2 x saturate(W -> b), g = W - b: 28W + 2 + 2g(1 + 2b) fJ x 48:
#   b=2: 324 x 48 = 15552; b=4: 528 x 48 = 25344; b=8: 1032 x 48 = 49536
# Movement: im2col 16 px x 18 x b bits (broadcast to the 3 channels), weights 54 x b bits, outputs 48 b;
#   in_bits = b=2: 684 (1 wave); b=4: min(1152 + 2*432, 2*1152 + 216) = 1584; b=8: min(2304 + 8*432, ...) = 5760
#   energy = (in + out) x 0.1 pJ + in x 0.5 fJ (MAP read) + rows f 2b x 2 fJ (CAP writes) + out x 2.5 fJ
#   b=2: 78 + 0.342 + 6.912 + 0.24 = 85.494 pJ; b=4: 177.6 + 0.792 + 15.36 + 0.48 = 194.232;
#   b=8: 614.4 + 2.88 + 27.648 + 0.96 = 645.888
# Cycles per wave = f (mul + acc cycles) + stages (12W + 1) + (8W + 1 + 4g):
#   b=2: 9 x 110 + 109 + 101 = 1200 (1 wave); b=4: 5 x 242 + 2 x 157 + 141 = 1665 x 2 = 3330;
#   b=8: 698 + 5 x 253 + 221 = 2184 x 8 = 17472
HAND = {
    2: dict(mac=347.328, reduce=29.568, post=15.552, movement=85.494, cycles=1200, rows=96, waves=1),
    4: dict(mac=879.360, reduce=127.872, post=25.344, movement=194.232, cycles=3330, rows=192, waves=2),
    8: dict(mac=2343.168, reduce=1271.616, post=49.536, movement=645.888, cycles=17472, rows=864, waves=8),
}


@pytest.mark.parametrize("b", [2, 4, 8])
def test_small_conv_follows_the_pass_formulas(b):
    lc = cost_gemm(conv(), b, b, b, small_arch())
    h = HAND[b]
    for k in ("mac", "reduce", "post", "movement"):
        assert lc.energy_pJ[k] == pytest.approx(h[k], rel=1e-12), k
    assert lc.cycles == h["cycles"] and lc.rows == h["rows"] and lc.waves == h["waves"]
    assert lc.time_s["compute"] == pytest.approx(h["cycles"] * 1e-9)
    assert lc.energy_total_pJ == pytest.approx(sum(h[k] for k in ("mac", "reduce", "post", "movement")))


def test_mixed_weight_and_activation_bits_and_packing_search():
    arch = small_arch()
    # 4-bit weights x 8-bit activations: mul w(4a+1) = 4 x 33 = 132 compares, accumulate into
    # Wout = 12 + 5 = 17 bits: 68 compares -> 200 compares per pair; dense: f_max = (64-12-17-1)//12 = 2
    lc = cost_gemm(conv(), 4, 8, 8, arch)
    assert "f=2 " in lc.note and lc.passes_per_row["mac"].compares == 2 * 200
    dense = cost_gemm(conv(), 4, 4, 4, arch, packing="dense")
    best = cost_gemm(conv(), 4, 4, 4, arch, packing="edp")
    edp = lambda x: x.energy_total_pJ * x.latency_s()
    assert edp(best) <= edp(dense)
    assert cost_gemm(conv(), 4, 4, 4, arch, packing="latency").latency_s() <= dense.latency_s()
    with pytest.raises(MappingError, match="pairs_per_row=9 is outside 1..5"):
        cost_gemm(conv(), 4, 4, 4, arch, pairs_per_row=9)


def test_wide_layer_is_split_over_caps():
    fc = Op(name="fc", target="aten.linear.default", module="fc", op_class="GEMM", kind="gemm",
            dims={"M": 1, "N": 2, "K": 4000}, tensors=[], macs=8000)
    lc = cost_gemm(fc, 4, 4, 4, small_arch(), packing="dense")
    # f_max = (64 - 8 - 20 - 1) // 8 = 4 -> 1000 rows per output > 64 rows per CAP -> split 16
    assert "split=16" in lc.note and lc.energy_pJ["reduce"] > 0 and lc.bus_bits > 2 * 4000 * 4


def test_depthwise_conv_moves_every_groups_im2col():
    """A depthwise conv's output channels do not share activations: each of the 4 groups needs its own
    3x3 windows. C = K = groups = 4, 4x4 outputs, 4-bit: 64 outputs, L = 9; dense f = 5 -> 2 rows each,
    128 rows = the 2 CAPs in one wave. Bus: im2col 16 px x 4 groups x 9 x 4 b = 2304 + weights 36 x 4 b
    = 144 + outputs 64 x 4 b = 256 -> 2704 bits (sharing across groups would give 16 x 9 x 4 = 576)."""
    dw = Op(name="dw", target="aten.convolution.default", module="dw", op_class="GEMM", kind="conv",
            dims={"N": 1, "C": 4, "K": 4, "R": 3, "S": 3, "P": 4, "Q": 4}, tensors=[], macs=4 * 16 * 9,
            attrs={"groups": 4})
    lc = cost_gemm(dw, 4, 4, 4, small_arch(), packing="dense")
    assert lc.waves == 1 and lc.rows == 128
    assert lc.bus_bits == 2304 + 144 + 256


def test_row_too_narrow_is_a_mapping_error():
    with pytest.raises(MappingError, match="cannot hold one 16-bit x 16-bit pair"):
        cost_gemm(conv(), 16, 16, 16, small_arch())


def elementwise(target, cls, n=100, kind="elementwise", **kw):
    return Op(name=target, target=target, module="m", op_class=cls, kind=kind, dims={"A": n}, tensors=[], **kw)


def test_nongemm_costs():
    arch = small_arch()
    relu = cost_nongemm(elementwise("aten.relu.default", "activation"), 4, arch, fused=True)
    # 100 rows x (1 key bit x 1 fJ + 4 zero bits x 2 fJ), in place: no movement
    assert relu.energy_pJ["activation"] == pytest.approx(0.9) and relu.energy_pJ["movement"] == 0
    add = cost_nongemm(elementwise("aten.add.Tensor", "arithmetic"), 4, arch)
    assert add.energy_pJ["arithmetic"] > 0 and add.energy_pJ["movement"] > 0
    bn = Op(name="bn", target="aten._native_batch_norm_legit_no_training.default", module="bn",
            op_class="normalization", kind="norm", dims={"N": 1, "C": 4, "X": 25}, tensors=[])
    assert cost_nongemm(bn, 4, arch, fused=True).energy_total_pJ == 0          # folded into the conv
    assert cost_nongemm(bn, 4, arch, fused=False).energy_pJ["normalization"] > 0
    mp = Op(name="mp", target="aten.max_pool2d_with_indices.default", module="mp", op_class="pooling",
            kind="pool", dims={"N": 1, "C": 4, "R": 3, "S": 3, "P": 5, "Q": 5}, tensors=[])
    lc = cost_nongemm(mp, 4, arch)
    # 100 outputs, 9 values per row: 8 in-row max of 4 bits: 100 x 8 x (48 key bits + 2 x 18 written bits)
    assert lc.energy_pJ["pooling"] == pytest.approx(100 * 8 * (48 + 36) * 1e-3)
    ap = Op(name="ap", target="aten.adaptive_avg_pool2d.default", module="ap", op_class="pooling",
            kind="pool", dims={"N": 1, "C": 4, "R": 7, "S": 7, "P": 1, "Q": 1}, tensors=[])
    assert "reciprocal" in cost_nongemm(ap, 4, arch).note
    odd = elementwise("aten.frobnicate.default", "other")
    g = cost_nongemm(odd, 4, arch)
    assert g.note.startswith("generic") and g.energy_total_pJ > 0                # never dropped
    sm = Op(name="sm", target="aten._softmax.default", module="s", op_class="logit_computation",
            kind="softmax", dims={"B": 2, "N": 10}, tensors=[])
    assert cost_nongemm(sm, 4, arch).energy_pJ["logit"] > 0
    mean = Op(name="mean", target="aten.mean.dim", module="m", op_class="arithmetic", kind="reduction",
              dims={"N": 1, "C": 8, "X": 49}, tensors=[], attrs={"in_shape": [1, 8, 7, 7], "out_shape": [1, 8]})
    red = cost_nongemm(mean, 8, arch)
    # 8 outputs x 49 rows; 6 stages (log2 49) of a 14-bit (8 + 6) reduction, then x(1/49) (not a power of 2)
    assert "reduction of 49 elements" in red.note and red.rows == 392
    assert red.passes_per_row["reduction"].compares == 6 * 6 * 14 + 8 * (4 * 14 + 1)


def test_bad_arch_values():
    with pytest.raises(InputError, match="hierarchy.cap.rows"):
        small_arch(hierarchy={"clusters": 1, "cluster": {"caps": 1, "maps": 1},
                              "cap": {"variant": "2d", "rows": "many", "columns": 64},
                              "map": {"variant": "1d", "rows": 64, "columns": 64}})
    with pytest.raises(InputError, match="must be a 2d AP"):
        small_arch(hierarchy={"clusters": 1, "cluster": {"caps": 1, "maps": 1},
                              "cap": {"variant": "1d", "rows": 64, "columns": 64},
                              "map": {"variant": "1d", "rows": 64, "columns": 64}})
    with pytest.raises(InputError, match="unknown section"):
        small_arch(gpu={"x": 1})
    with pytest.raises(InputError, match="row_packing"):
        small_arch(options={"row_packing": "random"})


def test_preset_loads_and_scales():
    a = bf_imna.build()
    assert a.config.cell == "sram" and a.config.n_caps == 1024 and a.cell.voltage_V == pytest.approx(0.85)
    r = bf_imna.build(cell="reram", vdd_V=0.7)
    assert r.cell.voltage_V == 0.7 and r.cell.write_cycles > 1
    ir = bf_imna.to_ir_arch(a)
    assert [lv.name for lv in ir.levels] == ["DRAM", "MAP", "CAP"] and ir.compute.instances == 1024 * 1024
    dram, mp, cap = ir.levels
    # ERT entries per access of one row (Timeloop's vector access): LPDDR4 512 pJ per 64-bit access (a100.yaml)
    assert dram.width == 64 and dram.action_energy_pJ["read"] == pytest.approx(512.0, rel=1e-12)
    assert mp.action_energy_pJ["read"] == pytest.approx(256 * (a.cell.read_fJ * 1e-3 + a.bus_pJ_per_bit))
    assert cap.action_energy_pJ["compare"] == pytest.approx(a.cell.compare_fJ * 1e-3)


def test_exported_depthwise_conv_is_sized_like_the_hand_built_one(tmp_path):
    """The exporter writes a depthwise conv as G=4 groups of C=1, K=1 (Timeloop style). Its AP cost must
    equal the hand-built C=K=4, groups=4 op above: 64 outputs, L = 9, 2704 bus bits."""
    factory = tmp_path / "dw.py"
    factory.write_text(
        "import torch\n"
        "def make():\n"
        "    return torch.nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), (torch.zeros(1, 4, 4, 4),)\n")
    from cimscope.bitfluid import gemm_shape
    from cimscope.workloads import export_model
    op = next(o for o in export_model(f"{factory}:make").ops if o.kind == "conv")
    assert op.dims["G"] == 4 and op.dims["K"] == 1
    assert gemm_shape(op) == (64, 9, 36)
    lc = cost_gemm(op, 4, 4, 4, small_arch(), packing="dense")
    assert lc.waves == 1 and lc.rows == 128
    assert lc.bus_bits == 2304 + 144 + 256


def test_batched_matmul_weights_come_from_the_weight_projection():
    """Attention AV: every head has its own V (Weights projected on B): weights = B x N x K."""
    from cimscope.bitfluid import gemm_shape
    from cimscope.ir import Tensor
    t = [Tensor("Inputs", "input", [[("B", 1)], [("M", 1)], [("K", 1)]], 8),
         Tensor("Weights", "weight", [[("B", 1)], [("K", 1)], [("N", 1)]], 8),
         Tensor("Outputs", "output", [[("B", 1)], [("M", 1)], [("N", 1)]], 8, read_write=True)]
    av = Op(name="av", target="aten.bmm.default", module="attn", op_class="GEMM", kind="gemm",
            dims={"B": 12, "M": 16, "N": 64, "K": 16}, tensors=t, macs=12 * 16 * 64 * 16)
    assert gemm_shape(av) == (12 * 16 * 64, 16, 12 * 64 * 16)
    shared = Op(name="fc", target="aten.mm.default", module="fc", op_class="GEMM", kind="gemm",
                dims={"B": 12, "M": 16, "N": 64, "K": 16},
                tensors=[t[0], Tensor("Weights", "weight", [[("K", 1)], [("N", 1)]], 8), t[2]],
                macs=12 * 16 * 64 * 16)
    assert gemm_shape(shared)[2] == 64 * 16
