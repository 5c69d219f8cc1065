"""Hand-derived checks of the builtin model (Timeloop semantics) on small problems.

Conventions used in the comments: a *visit* of a child tile is one execution of the child's outermost loop;
fills = sum over visits of the new words (the whole tile unless it overlaps the previous one along one
rank, moving the same way as before); reads by the MACs = one per operand per compute; an output's first
update reads nothing (reads = updates - partition size); energy = accesses x ERT energy per access (block
size 1 everywhere here, so vector accesses = scalar accesses).
"""
import pytest

from cimscope import ir
from cimscope.errors import InputError, MappingError
from cimscope.model import evaluate, evaluate_many

ERT = {
    "DRAM": {"read": 100.0, "write": 100.0, "update": 100.0},
    "GLB": {"read": 10.0, "write": 12.0, "update": 12.0},
    "RF": {"read": 1.0, "write": 1.5, "update": 1.5},
    "Buffer": {"read": 1.0, "write": 2.0, "update": 3.0},
}


def conv1d(R=3, P=8):
    return ir.Problem(name="conv1d", dims={"R": R, "P": P}, dataspaces=[
        ir.Tensor("Weights", "weight", [[("R", 1)]], 8),
        ir.Tensor("Inputs", "input", [[("R", 1), ("P", 1)]], 8),
        ir.Tensor("Outputs", "output", [[("P", 1)]], 8, read_write=True)], kind="conv")


def gemm(M=2, N=4, K=3):
    return ir.Problem(name="gemm", dims={"M": M, "N": N, "K": K}, dataspaces=[
        ir.Tensor("A", "input", [[("M", 1)], [("K", 1)]], 8),
        ir.Tensor("B", "weight", [[("K", 1)], [("N", 1)]], 8),
        ir.Tensor("Z", "output", [[("M", 1)], [("N", 1)]], 8, read_write=True)])


def level(name, depth, instances=1, mesh_x=None, **kw):
    return ir.Level(name=name, cls="DRAM" if name == "DRAM" else "SRAM", instances=instances,
                    mesh_x=mesh_x or instances, mesh_y=1, depth=depth, width=8, word_bits=8,
                    action_energy_pJ=dict(ERT[name]), **kw)


def mac(instances=1):
    return ir.ComputeLevel(name="MAC", instances=instances, mesh_x=instances, action_energy_pJ={"compute": 1.0})


def lm(target, perm="", **factors):
    return ir.LevelMapping(target=target, temporal_factors=factors, temporal_permutation=perm)


def acc(r, level_name, ds):
    a = r.accesses[level_name][ds]
    return (a.reads, a.fills, a.updates)


# ---------------------------------------------------------------------------------------------------------
# 1-D convolution, 2 levels (DRAM -> Buffer -> MAC)
# ---------------------------------------------------------------------------------------------------------

def test_conv1d_weight_stationary_two_levels():
    # DRAM: for r in [0:3) ; Buffer: for p in [0:8) ; MAC.  24 computes, 24 cycles.
    # Buffer tiles: Weights 1, Inputs R1+P8-1 = 8, Outputs 8.
    # Buffer reads by the MAC: Weights 24, Inputs 24; Outputs updates 24, reads 24 - partition 8 = 16.
    # Buffer fills: Weights 3 (one per r); Inputs: window [r, r+8): 8 + 1 + 1 = 10 (sliding by one each r);
    # Outputs: 8 (one tile, independent of r) - partition 8 = 0.
    # DRAM: reads Weights 3, Inputs 10; Outputs updates 8, reads 8 - 8 = 0.
    # Energy: Buffer 64 reads x1 + 13 fills x2 + 24 updates x3 = 162; DRAM 13 reads x100 + 8 updates x100
    # = 2100; MAC 24 x 1 = 24; total 2286 pJ.
    arch = ir.Arch("a", [level("DRAM", None), level("Buffer", 64)], mac())
    m = ir.Mapping([lm("DRAM", "RP", R=3, P=1), lm("Buffer", "PR", R=1, P=8)])
    r = evaluate(conv1d(), arch, m)
    assert acc(r, "Buffer", "Weights") == (24, 3, 0)
    assert acc(r, "Buffer", "Inputs") == (24, 10, 0)
    assert acc(r, "Buffer", "Outputs") == (16, 0, 24)
    assert acc(r, "DRAM", "Weights") == (3, 0, 0)
    assert acc(r, "DRAM", "Inputs") == (10, 0, 0)
    assert acc(r, "DRAM", "Outputs") == (0, 0, 8)
    assert r.accesses["Buffer"]["Inputs"].tile_words == 8
    assert r.energy_pJ_per_level == pytest.approx({"MAC": 24.0, "Buffer": 162.0, "DRAM": 2100.0})
    assert r.energy_pJ == pytest.approx(2286.0)
    assert (r.cycles, r.computes, r.utilization) == (24, 24, 1.0)
    assert r.extra["energy_by_action_pJ"]["Buffer"] == pytest.approx(
        {"read": 64.0, "fill": 26.0, "update": 72.0, "leak": 0.0})


def test_conv1d_output_stationary_two_levels():
    # DRAM: for p in [0:8) ; Buffer: for r in [0:3).  Buffer tiles: Weights 3, Inputs 3, Outputs 1.
    # Weights filled once (3); Inputs window [p, p+3): 3 + 7 x 1 = 10; Outputs 8 visits - partition 8 = 0.
    # Outputs reads at the Buffer = 24 updates - partition 8 = 16 (partition = the 8 outputs).
    arch = ir.Arch("a", [level("DRAM", None), level("Buffer", 64)], mac())
    m = ir.Mapping([lm("DRAM", "PR", R=1, P=8), lm("Buffer", "RP", R=3, P=1)])
    r = evaluate(conv1d(), arch, m)
    assert acc(r, "Buffer", "Weights") == (24, 3, 0)
    assert acc(r, "Buffer", "Inputs") == (24, 10, 0)
    assert acc(r, "Buffer", "Outputs") == (16, 0, 24)
    assert r.accesses["Buffer"]["Outputs"].tile_words == 1
    assert acc(r, "DRAM", "Outputs") == (0, 0, 8)


def test_conv1d_input_visits_follow_timeloops_extrapolation():
    # DRAM loops (inner first): r in [0:3), p in [0:4); the Buffer keeps 1 word of each data space, the
    # Inputs word at position p + r. Timeloop runs iteration 0 and iteration 1 of each loop, the latter
    # standing for the remaining n-1 iterations (weight n-1), and keeps the state of iteration 1:
    #   (r0,p0) w1: first visit, 1 word         (r1,p0) w2: moved +1, 1 word
    #   (r0,p1) w3: p+1, r back to 0 -> same point as (r1,p0): 0 words
    #   (r1,p1) w6: moved +1, 1 word            -> Inputs fills 1 + 2 + 0 + 6 = 9 (walking every
    # iteration would give 12; Timeloop's extrapolation gives 9, and so does this model).
    # Weights (position r) move at every visit: 1 + 2 + 3 + 6 = 12 fills.
    arch = ir.Arch("a", [level("DRAM", None), level("Buffer", 64)], mac())
    m = ir.Mapping([lm("DRAM", "RP", R=3, P=4), lm("Buffer", "RP")])
    r = evaluate(conv1d(R=3, P=4), arch, m)
    assert acc(r, "Buffer", "Inputs") == (12, 9, 0)
    assert acc(r, "Buffer", "Weights") == (12, 12, 0)
    assert acc(r, "DRAM", "Inputs") == (9, 0, 0)


# ---------------------------------------------------------------------------------------------------------
# GEMM, 3 levels (DRAM -> GLB -> RF -> MAC): output-, weight- and input-stationary
# ---------------------------------------------------------------------------------------------------------

def arch3(**glb):
    return ir.Arch("g3", [level("DRAM", None), level("GLB", 256, **glb), level("RF", 16)], mac())


def test_gemm_output_stationary():
    # M=2 N=4 K=3 (24 MACs). DRAM: m in [0:2); GLB: n in [0:4); RF: k in [0:3).
    # RF tiles A[m,0:3]=3, B[0:3,n]=3, Z[m,n]=1. Z partition at RF = 8 (GLB tile Z[m,0:4] = 4, parent
    # partition 8 x 4/4). RF: A reads 24, fills 2 x 3 = 6 (changes with m only); B reads 24, fills
    # 8 visits x 3 = 24; Z updates 24, reads 24 - 8 = 16, fills 8 - 8 = 0.
    # GLB: A reads 6, fills 6; B reads 24, fills 12 (all of B, once); Z updates 8, reads 0, fills 0.
    # DRAM: A 6, B 12 reads; Z 8 updates.
    # Energy: RF 64x1 + 30x1.5 + 24x1.5 = 145; GLB 30x10 + 18x12 + 8x12 = 612; DRAM 18x100 + 8x100 = 2600;
    # MAC 24 -> 3381 pJ.
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=4), lm("RF", "KMN", K=3)])
    r = evaluate(gemm(), arch3(), m)
    assert acc(r, "RF", "A") == (24, 6, 0)
    assert acc(r, "RF", "B") == (24, 24, 0)
    assert acc(r, "RF", "Z") == (16, 0, 24)
    assert acc(r, "GLB", "A") == (6, 6, 0)
    assert acc(r, "GLB", "B") == (24, 12, 0)
    assert acc(r, "GLB", "Z") == (0, 0, 8)
    assert acc(r, "DRAM", "A") == (6, 0, 0)
    assert acc(r, "DRAM", "B") == (12, 0, 0)
    assert acc(r, "DRAM", "Z") == (0, 0, 8)
    assert r.energy_pJ_per_level == pytest.approx({"MAC": 24, "RF": 145, "GLB": 612, "DRAM": 2600})
    assert r.energy_pJ == pytest.approx(3381.0)
    assert r.cycles == 24


def test_gemm_weight_stationary():
    # DRAM: n in [0:4); GLB: k in [0:3); RF: m in [0:2).  RF tiles A[0:2,k]=2, B[k,n]=1, Z[0:2,n]=2.
    # RF fills: A 12 visits x 2 = 24; B 12 x 1 = 12; Z 4 x 2 = 8 - partition 8 = 0.
    # GLB: A reads 24, fills 6 (all of A once); B reads 12, fills 4 x 3 = 12; Z updates 8, reads 0.
    # Energy: RF 64 + 36x1.5 + 36 = 154; GLB 36x10 + 18x12 + 96 = 672; DRAM 2600; MAC 24 -> 3450 pJ.
    m = ir.Mapping([lm("DRAM", "NMK", N=4), lm("GLB", "KMN", K=3), lm("RF", "MNK", M=2)])
    r = evaluate(gemm(), arch3(), m)
    assert acc(r, "RF", "A") == (24, 24, 0)
    assert acc(r, "RF", "B") == (24, 12, 0)
    assert acc(r, "RF", "Z") == (16, 0, 24)
    assert acc(r, "GLB", "A") == (24, 6, 0)
    assert acc(r, "GLB", "B") == (12, 12, 0)
    assert acc(r, "GLB", "Z") == (0, 0, 8)
    assert r.energy_pJ == pytest.approx(3450.0)


def test_gemm_input_stationary():
    # DRAM: m in [0:2); GLB: k in [0:3); RF: n in [0:4).  RF tiles A[m,k]=1, B[k,0:4]=4, Z[m,0:4]=4.
    # RF fills: A 6 x 1 = 6; B 6 visits x 4 = 24; Z 2 visits x 4 = 8 - 8 = 0.
    # GLB: A reads 6, fills 2 x 3 = 6; B reads 24, fills 12 (once); Z updates 8.
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "KMN", K=3), lm("RF", "NMK", N=4)])
    r = evaluate(gemm(), arch3(), m)
    assert acc(r, "RF", "A") == (24, 6, 0)
    assert acc(r, "RF", "B") == (24, 24, 0)
    assert acc(r, "RF", "Z") == (16, 0, 24)
    assert acc(r, "GLB", "A") == (6, 6, 0)
    assert acc(r, "GLB", "B") == (24, 12, 0)
    assert acc(r, "GLB", "Z") == (0, 0, 8)
    assert r.energy_pJ == pytest.approx(3381.0)


def test_bandwidth_throttling_and_leakage():
    # Output-stationary mapping above, GLB read_bandwidth 1 word/cycle: GLB reads per instance 6 + 24 = 30 over
    # 24 compute cycles = 1.25 words/cycle -> slowdown 1/1.25 = 0.8 -> GLB cycles ceil(24/0.8) = 30 = total.
    # Utilisation 24 computes / (30 cycles x 1 MAC) = 0.8. RF leakage 0.1 pJ/cycle x 30 cycles = 3 pJ.
    a = arch3(read_bandwidth=1.0)
    a.level("RF").action_energy_pJ["leak"] = 0.1
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=4), lm("RF", "KMN", K=3)])
    r = evaluate(gemm(), a, m)
    assert r.cycles == 30
    assert r.utilization == pytest.approx(0.8)
    assert r.energy_pJ_per_level["RF"] == pytest.approx(145 + 3.0)
    assert r.extra["level_cycles"] == {"RF": 24, "GLB": 30, "DRAM": 24}


def test_bypass_rf_for_weights():
    # Output-stationary mapping with the RF bypassing B: the MACs read B straight from the GLB, 24 reads;
    # GLB's B fills stay 12.
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=4), lm("RF", "KMN", K=3)])
    m.levels[2].bypass = ["B"]
    r = evaluate(gemm(), arch3(), m)
    assert "B" not in r.accesses["RF"]
    assert acc(r, "GLB", "B") == (24, 12, 0)
    assert acc(r, "RF", "A") == (24, 6, 0)


# ---------------------------------------------------------------------------------------------------------
# Spatial fanout: multicast and spatial reduction
# ---------------------------------------------------------------------------------------------------------

def arch_pe(n_pe=4):
    return ir.Arch("pe", [level("DRAM", None), level("GLB", 256), level("RF", 16, instances=n_pe)], mac(n_pe))


def test_spatial_multicast_of_inputs():
    # GEMM M=2 N=4 K=3 on 4 PEs: GLB spatial N=4 (PE n computes column n), RF: k in [0:3), DRAM: m in [0:2).
    # 6 MACs per PE -> 6 cycles, 24 computes, utilisation 1.
    # Per PE: A[m,0:3]=3 fills 2 x 3 = 6 (same for every PE: multicast 4), B[0:3,n]=3 filled once,
    # Z[m,n] 2 visits x 1 = 2 - partition 2 (8 x 1 / 4 for the 4-wide spatial tile) = 0.
    # RF totals (4 PEs): A reads 24, fills 24; B reads 24, fills 12; Z updates 24, reads 4 x (6 - 2) = 16.
    # GLB: A reads 6 (one multicast read per word), B reads 12, Z updates 8, reads 0; fills A 6, B 12.
    # Energy: RF 64x1 + 36x1.5 + 24x1.5 = 154; GLB 18x10 + 18x12 + 8x12 = 492; DRAM 2600; MAC 24 -> 3270.
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "MNK"), lm("RF", "KMN", K=3)])
    m.levels[1].spatial_factors = {"N": 4}
    m.levels[1].spatial_permutation = "NMK"
    r = evaluate(gemm(), arch_pe(), m)
    assert (r.cycles, r.computes, r.utilization) == (6, 24, 1.0)
    assert acc(r, "RF", "A") == (24, 24, 0)
    assert acc(r, "RF", "B") == (24, 12, 0)
    assert acc(r, "RF", "Z") == (16, 0, 24)
    assert acc(r, "GLB", "A") == (6, 6, 0)
    assert acc(r, "GLB", "B") == (12, 12, 0)
    assert acc(r, "GLB", "Z") == (0, 0, 8)
    assert r.energy_pJ == pytest.approx(3270.0)


def test_spatial_reduction_of_partial_sums():
    # GEMM M=2 N=2 K=4 on 4 PEs: GLB spatial K=4, RF: n in [0:2), DRAM: m in [0:2). 4 MACs per PE.
    # Every PE updates the same Z[m,0:2] (2 words): spatially reduced, counted once at the GLB.
    # Z partition at RF = 4 x 2 / 2 = 4 -> RF Z reads 4 - 4 = 0 per PE, updates 4 per PE (16 in total).
    # GLB: Z updates = 2 visits x 2 words = 4 (one reduced update per word), reads 4 - 4 = 0;
    # A: each PE its own A[m,k]: 2 fills per PE -> GLB A reads 8; B[k,0:2] per PE filled once -> GLB B reads 8.
    p = gemm(M=2, N=2, K=4)
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "MNK"), lm("RF", "NMK", N=2)])
    m.levels[1].spatial_factors = {"K": 4}
    m.levels[1].spatial_permutation = "KMN"
    r = evaluate(p, arch_pe(), m)
    assert r.cycles == 4
    assert acc(r, "RF", "Z") == (0, 0, 16)
    assert acc(r, "RF", "A") == (16, 8, 0)
    assert acc(r, "RF", "B") == (16, 8, 0)
    assert acc(r, "GLB", "Z") == (0, 0, 4)
    assert acc(r, "GLB", "A") == (8, 8, 0)
    assert acc(r, "GLB", "B") == (8, 8, 0)


# ---------------------------------------------------------------------------------------------------------
# Bad mappings
# ---------------------------------------------------------------------------------------------------------

def test_factors_must_multiply_to_dimension():
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=2), lm("RF", "KMN", K=3)])
    with pytest.raises(MappingError, match=r"dimension N multiply to 2, not to its size 4"):
        evaluate(gemm(), arch3(), m)


def test_capacity_overflow_names_level_and_dataspace():
    # RF holds 16 words; K=3, N=4 at the RF needs A 3 + B 12 + Z 4 = 19 words.
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "MNK"), lm("RF", "KNM", K=3, N=4)])
    with pytest.raises(MappingError, match=r"level RF: data space B overflows it: the kept tiles need 19 words"):
        evaluate(gemm(), arch3(), m)


def test_fanout_overflow_is_rejected():
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "MNK", N=1), lm("RF", "KMN", K=3)])
    m.levels[1].spatial_factors = {"N": 4}
    with pytest.raises(MappingError, match=r"level GLB: spatial factors use 4 instances below it but its fanout is 2"):
        evaluate(gemm(), arch_pe(2), m)


def test_unknown_bypass_and_everything_bypassed():
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=4), lm("RF", "KMN", K=3)])
    m.levels[1].bypass = ["Q"]
    with pytest.raises(MappingError, match="unknown data space 'Q'"):
        evaluate(gemm(), arch3(), m)
    for lvm in m.levels:
        lvm.bypass = ["A"]
    with pytest.raises(MappingError, match="data space A is bypassed at every level"):
        evaluate(gemm(), arch3(), m)


def test_link_transfers_between_neighbour_pes():
    # Conv1D R=3 P=4 on 4 PEs in a row (mesh 4x1). GLB: for r in [0:3) (temporal), spatial P=4 (PE p holds
    # output p); RFs keep 1 word of each data space. Timeloop visits r=0 (weight 1) and r=1 (weight 2):
    #   r=0: PE p needs Inputs word p; nothing before -> 4 reads from the GLB.
    #   r=1: PE p needs word p+1, which PE p+1 received one step earlier: PEs 0..2 take it over the link
    #        (3 link transfers x weight 2 = 6), PE 3 reads the GLB: 1 x 2 = 2.
    # GLB Inputs reads = 4 + 2 = 6 (without links: 4 + 8 = 12). The RFs' fill share = 6 / 4 = 1.5 plus
    # 6 // 4 = 1 peer fill and 1 peer read each (Timeloop charges link transfers to the receiving buffer).
    # Weights: all PEs need word r: one multicast read per visit -> 1 + 2 = 3 GLB reads.
    arch = ir.Arch("row", [level("DRAM", None), level("GLB", 256), level("RF", 16, instances=4)], mac(4))
    m = ir.Mapping([lm("DRAM", "RP"), lm("GLB", "RP", R=3), lm("RF", "RP")])
    m.levels[1].spatial_factors = {"P": 4}
    m.levels[1].spatial_permutation = "PR"
    r = evaluate(conv1d(R=3, P=4), arch, m)
    assert r.extra["link_transfers_used"]
    assert acc(r, "GLB", "Inputs")[0] == 6
    assert acc(r, "GLB", "Weights")[0] == 3
    assert acc(r, "RF", "Inputs") == (4 * (3 + 1), 4 * (1.5 + 1), 0)
    r0 = evaluate(conv1d(R=3, P=4), arch, m, link_transfers=False)
    assert acc(r0, "GLB", "Inputs")[0] == 12
    assert acc(r0, "RF", "Inputs") == (12, 12, 0)


# ---------------------------------------------------------------------------------------------------------
# 2-D fanout (meshX x meshY), intermediate bypass of the output, block size, bandwidths, buffering
# ---------------------------------------------------------------------------------------------------------

def arch_mesh(mx=2, my=2):
    n = mx * my
    return ir.Arch("mesh", [level("DRAM", None), level("GLB", 256),
                            ir.Level("RF", "regfile", instances=n, mesh_x=mx, mesh_y=my, depth=16, width=8,
                                     word_bits=8, action_energy_pJ=dict(ERT["RF"]))],
                   ir.ComputeLevel("MAC", instances=n, mesh_x=mx, mesh_y=my, action_energy_pJ={"compute": 1.0}))


@pytest.mark.parametrize("perm", ["MNK", "M"])
def test_xy_fanout_multicasts_along_both_axes(perm):
    # GEMM M=2 N=2 K=2 on a 2x2 PE mesh: GLB spatial M along X (split 1), N along Y; RF: k in [0:2).
    # PE (m, n) computes Z[m, n]: 2 cycles, 8 computes. A[m, 0:2] is needed by the 2 PEs of column m
    # (multicast 2 along Y), B[0:2, n] by the 2 PEs of row n (multicast 2 along X): GLB reads A 4, B 4 (each
    # word once). Each PE: A fills 2, B fills 2, Z updates 2, reads 2 - partition 1 = 1 (4 PEs: 8, 8, 8, 4).
    # GLB Z: one update per word = 4. Energy: RF (16 reads + 16 fills) x 1/1.5 + 8 updates x 1.5 + 4 Z reads
    # = 16 + 24 + 12 + 4 = 56; GLB 8 reads x 10 + 8 fills x 12 + 4 updates x 12 = 224; DRAM 8 reads + 4
    # updates = 1200; MAC 8 -> 1488 pJ. The spatial permutation "M" (missing N, K) is padded like Timeloop
    # pads it (N then K, outermost), so split 1 still puts M on X and N on Y.
    m = ir.Mapping([lm("DRAM"), lm("GLB"), lm("RF", "K", K=2)])
    m.levels[1].spatial_factors = {"M": 2, "N": 2}
    m.levels[1].spatial_permutation = perm
    m.levels[1].spatial_split = 1
    p, a = gemm(M=2, N=2, K=2), arch_mesh()
    r = evaluate(p, a, m)
    assert (r.cycles, r.computes) == (2, 8)
    assert acc(r, "GLB", "A") == (4, 4, 0) and acc(r, "GLB", "B") == (4, 4, 0)
    assert acc(r, "GLB", "Z") == (0, 0, 4)
    assert acc(r, "RF", "A") == (8, 8, 0) and acc(r, "RF", "B") == (8, 8, 0)
    assert acc(r, "RF", "Z") == (4, 0, 8)
    assert r.energy_pJ == pytest.approx(1488.0)
    assert evaluate_many(p, a, [m])["energy_pJ"][0] == pytest.approx(1488.0)
    # Both factors on X (no split): 4 PEs along an X axis of 2 does not fit.
    m.levels[1].spatial_split = None
    with pytest.raises(MappingError, match=r"4 along X and 1 along Y but the fanout is 2 \(X\) x 2 \(Y\)"):
        evaluate(p, a, m)
    assert not evaluate_many(p, a, [m])["valid"][0]


def test_output_bypassed_at_an_intermediate_level():
    # GEMM M=2 N=4 K=3; DRAM: k in [0:3); GLB: n in [0:4); RF: m in [0:2). RF tile Z[0:2, n] (2 words),
    # visited 12 times (every (k, n)), partition 8 (whole Z). GLB keeping Z: Z stays in the GLB across k,
    # so DRAM sees 8 updates, 0 reads. GLB bypassing Z: the RF writes back to DRAM directly: DRAM Z updates
    # 12 visits x 2 = 24, reads 24 - 8 = 16 (the first update of each word reads nothing); the RF is unchanged
    # (fills 24 - 8 = 16, reads 24 - 8 = 16, updates 24).
    m = ir.Mapping([lm("DRAM", "K", K=3), lm("GLB", "N", N=4), lm("RF", "M", M=2)])
    r = evaluate(gemm(), arch3(), m)
    assert acc(r, "DRAM", "Z") == (0, 0, 8) and acc(r, "GLB", "Z") == (16, 0, 24)
    m.levels[1].bypass = ["Z"]
    r2 = evaluate(gemm(), arch3(), m)
    assert "Z" not in r2.accesses["GLB"]
    assert acc(r2, "DRAM", "Z") == (16, 0, 24)
    assert acc(r2, "RF", "Z") == (16, 16, 24)
    # energy: DRAM Z 40 x 100 instead of 8 x 100; the GLB loses 16 reads x 10 + 24 updates x 12
    assert r2.energy_pJ - r.energy_pJ == pytest.approx(3200 - 160 - 288)
    assert evaluate_many(gemm(), arch3(), [m])["energy_pJ"][0] == pytest.approx(r2.energy_pJ)


def test_block_size_and_read_write_shared_bandwidth():
    # Output-stationary GEMM (see test_gemm_output_stationary) with a 32-bit-wide GLB of 8-bit words: block
    # size 4. Timeloop charges ceil(scalar accesses / block size) vector accesses per action and data space
    # (model/buffer.cpp): A reads 6 -> 2, fills 6 -> 2; B reads 24 -> 6, fills 12 -> 3; Z updates 8 -> 2:
    # 8 vector reads x 10 + 5 fills x 12 + 2 updates x 12 = 164 pJ (612 pJ with block size 1).
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=4), lm("RF", "KMN", K=3)])
    a = arch3()
    a.level("GLB").width = 32
    assert a.level("GLB").block_size == 4
    r = evaluate(gemm(), a, m)
    assert r.energy_pJ_per_level["GLB"] == pytest.approx(164.0)
    assert evaluate_many(gemm(), a, [m])["energy_pJ"][0] == pytest.approx(r.energy_pJ)
    assert r.cycles == 24
    # GLB demand per instance over 24 compute cycles: reads 30 (1.25 words/cycle), writes 6 + 12 + 8 = 26.
    # write_bandwidth 1 -> slowdown 24/26 -> ceil(26) = 26 cycles; read_bandwidth 2 does not bind.
    r = evaluate(gemm(), arch3(read_bandwidth=2.0, write_bandwidth=1.0), m)
    assert r.cycles == 26 and r.extra["level_cycles"]["GLB"] == 26
    # shared_bandwidth 2 words/cycle for reads + writes (56 words) -> 28 cycles.
    r = evaluate(gemm(), arch3(read_bandwidth=2.0, shared_bandwidth=2.0), m)
    assert r.cycles == 28
    out = evaluate_many(gemm(), arch3(read_bandwidth=2.0, shared_bandwidth=2.0), [m])
    assert out["cycles"][0] == 28


def test_multiple_buffering_and_min_utilization_limit_capacity():
    # RF tiles with RF: k in [0:3), n in [0:2): A 3 + B 6 + Z 2 = 11 words. They fit 16 words, not the
    # effective 16 / 2 = 8 of a double-buffered RF (Timeloop: effective size = floor(size / multiple_buffering)).
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=2), lm("RF", "KNM", K=3, N=2)])
    a = arch3()
    evaluate(gemm(), a, m)
    a.level("RF").multiple_buffering = 2.0
    with pytest.raises(MappingError, match=r"level RF: data space B overflows it: the kept tiles need 11 words "
                                           r"\(B 6, A 3, Z 2\) but RF holds 8 words"):
        evaluate(gemm(), a, m)
    assert not evaluate_many(gemm(), a, [m])["valid"][0]
    # min_utilization 0.75 of 16 words = 12 > 11: Timeloop rejects the mapping ("less than constrained minimum
    # utilization"); 0.5 (8 words) accepts it.
    a.level("RF").multiple_buffering = 1.0
    a.level("RF").attributes["min_utilization"] = 0.75
    with pytest.raises(MappingError, match=r"level RF: the kept tiles use 11 words but its min_utilization 0.75"):
        evaluate(gemm(), a, m)
    assert not evaluate_many(gemm(), a, [m])["valid"][0]
    a.level("RF").attributes["min_utilization"] = 0.5
    assert evaluate(gemm(), a, m).energy_pJ == pytest.approx(evaluate_many(gemm(), a, [m])["energy_pJ"][0])


def test_instances_must_be_a_multiple_of_the_parents():
    a = arch_pe(4)
    a.levels[1].instances = 3                 # GLB x3 above 4 RFs: no whole fanout
    m = ir.Mapping([lm("DRAM", "MNK", M=2), lm("GLB", "NMK", N=4), lm("RF", "KMN", K=3)])
    with pytest.raises(InputError, match="RF has 4 instances, not a multiple of the 3 instances of GLB"):
        evaluate(gemm(), a, m)


@pytest.mark.parametrize("R,stride,dilation,tile,fills", [(2, 2, 1, 2, 8), (3, 2, 1, 3, 9), (2, 1, 2, 3, 6)])
def test_strided_and_dilated_inputs(R, stride, dilation, tile, fills):
    # Inputs[w] with w = stride * p + dilation * r (Timeloop projection [[r, Wd], [p, Ws]]); DRAM: p in [0:4);
    # Buffer: r in [0:R). The Buffer's Inputs tile is the AAHR [s*p, s*p + d*(R-1)] of d*(R-1) + 1 words; each
    # p step moves it by s: stride 2, R 2: tiles [0,1], [2,3] ... never overlap -> 4 x 2 = 8 fills; stride 2,
    # R 3: [0,2], [2,4] ... overlap 1 -> 3 + 3 x 2 = 9; dilation 2, R 2: [p, p+2] (3 words, 2 used), moving by
    # 1 -> 3 + 3 x 1 = 6. The MAC reads one word per compute: 4 x R.
    p = ir.Problem(name="c", dims={"R": R, "P": 4}, coefficients={"Ws": stride, "Wd": dilation}, dataspaces=[
        ir.Tensor("Weights", "weight", [[("R", 1)]], 8),
        ir.Tensor("Inputs", "input", [[("R", "Wd"), ("P", "Ws")]], 8),
        ir.Tensor("Outputs", "output", [[("P", 1)]], 8, read_write=True)], kind="conv")
    arch = ir.Arch("a", [level("DRAM", None), level("Buffer", 64)], mac())
    m = ir.Mapping([lm("DRAM", "PR", P=4), lm("Buffer", "RP", R=R)])
    r = evaluate(p, arch, m)
    assert acc(r, "Buffer", "Inputs") == (4 * R, fills, 0)
    assert r.accesses["Buffer"]["Inputs"].tile_words == tile
    assert evaluate_many(p, arch, [m])["fills"][0, 0, 1] == fills
