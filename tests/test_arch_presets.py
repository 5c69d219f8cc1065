"""Architecture presets (a100_sm, a100_like), their ERT, and the CiM placements built on them.

Published figures used here: /work/shared/reference/a100.yaml (A100 whitepaper numbers and the WWW SM) and
/work/shared/reference/cim_macros.yaml (equal_area_arrays), copied into the constants below.
"""
import pytest

from cimscope.arch.builders import available_archs, build_arch, capacity_bytes
from cimscope.arch.placements import (ARRAY_BYTES, PRIMITIVES, equal_area_arrays, place, valid_placements)
from cimscope.errors import UnknownNameError

# a100.yaml, www_tensor_core_like_sm.energy_per_access_pJ
WWW_ERT = {"DRAM": (512.0, 512.0), "SMEM": (124.70, 118.03), "RF": (11.39, 11.47), "LRF": (0.019, 0.020)}
WWW_INT8_MAC = 0.2625
# cim_macros.yaml, equal_area_arrays (WWW SM)
EQUAL_AREA = {"analog6T": {"rf": 3, "smem": 48}, "analog8T": {"rf": 2, "smem": 32},
              "digital6T": {"rf": 3, "smem": 48}, "digital8T": {"rf": 4, "smem": 64}}


def test_presets_listed():
    assert {"a100_like", "a100_sm"} <= set(available_archs())


def test_a100_sm_matches_the_www_sm():
    a = build_arch("a100_sm")
    assert [lv.name for lv in a.levels] == ["DRAM", "SMEM", "RF", "LRF"]
    dram, smem, rf, lrf = a.levels
    assert capacity_bytes(dram) is None and dram.read_bandwidth == 32 and dram.width == 64
    assert capacity_bytes(smem) == 262144 and smem.n_banks == 2 and smem.read_bandwidth == 42
    assert rf.instances == 4 and capacity_bytes(rf) == 4096 and rf.n_banks == 16
    assert lrf.instances == 1024 and capacity_bytes(lrf) == 1
    assert a.compute.instances == 4 * 16 * 16 and a.cycle_seconds == 1e-9 and a.technology == "45nm"
    for lv in a.levels:
        rd, wr = WWW_ERT[lv.name]
        assert lv.action_energy_pJ["read"] == rd and lv.action_energy_pJ["write"] == wr
    assert a.compute.action_energy_pJ["compute"] == WWW_INT8_MAC
    # Timeloop charges the row energy per access of `width` bits: 512 pJ / 8 one-byte words = 64 pJ per byte
    assert dram.action_energy_pJ["read"] / dram.block_size == 64.0
    assert smem.action_energy_pJ["read"] / smem.block_size == pytest.approx(3.897, abs=1e-3)


def test_a100_sm_plugins_reproduce_published_ert():
    """Cross-check: the plug-ins give the published DRAM, RF, local-register and MAC figures exactly."""
    pub, plug = build_arch("a100_sm"), build_arch("a100_sm", ert="plugins")
    for name in ("DRAM", "RF", "LRF"):
        for action in ("read", "write"):
            assert plug.level(name).action_energy_pJ[action] == pytest.approx(pub.level(name).action_energy_pJ[action])
    assert plug.compute.action_energy_pJ["compute"] == pytest.approx(WWW_INT8_MAC)


def test_a100_like_capacities_peaks_and_bandwidths():
    a = build_arch("a100_like")
    hbm, l2, smem, rf = a.levels
    assert (hbm.instances, l2.instances, smem.instances, rf.instances) == (1, 1, 108, 432)
    assert capacity_bytes(l2) == 40 * 2 ** 20
    assert capacity_bytes(smem) == 192 * 1024 and capacity_bytes(rf) == 64 * 1024
    clock = 1.41e9
    assert a.cycle_seconds == pytest.approx(1 / clock)
    # a100.yaml: 624 int8 TOPS dense, 1555 GB/s HBM2
    assert a.compute.instances * 2 * clock == pytest.approx(624e12, rel=2e-3)
    assert hbm.shared_bandwidth * clock == pytest.approx(1555e9, rel=1e-3)      # reads + writes
    assert l2.read_bandwidth * clock == pytest.approx(7219e9, rel=1e-3)       # 5120 B/clk
    a16 = build_arch("a100_like", bits=16)
    assert a16.compute.instances * 2 * clock == pytest.approx(312e12, rel=2e-3)   # peak_dense_fp16_tflops
    assert a16.levels[0].shared_bandwidth * 2 * clock == pytest.approx(1555e9, rel=1e-3)


def test_a100_like_ert_comes_from_the_plugins_at_7nm():
    from cimscope.plugins.base import estimate
    a = build_arch("a100_like")
    l2 = a.level("L2")
    est = estimate("sram_buffer", {"capacity_bytes": 40 * 2 ** 20, "width_bits": 1024, "banks": 80, "technology": 7})
    assert l2.action_energy_pJ["read"] == pytest.approx(est.actions["read"].energy_pJ)
    assert l2.area_um2 == pytest.approx(est.area_um2)
    mac = estimate("tensor_core_mac", {"input_bits": 8, "weight_bits": 8, "technology": 7})
    assert a.compute.action_energy_pJ["compute"] == pytest.approx(mac.actions["mac"].energy_pJ)
    for lv in a.levels:
        assert lv.action_energy_pJ["read"] > 0 and "plug-in" in lv.attributes["ert_source"]


@pytest.mark.parametrize("primitive", PRIMITIVES)
def test_equal_area_array_counts_reproduce_www(primitive):
    for placement in ("rf", "smem"):
        pa = place("a100_sm", placement, primitive)
        assert pa.cim.arrays == EQUAL_AREA[primitive][placement]
        # never more than one row of 8 arrays (or 1 array below 8) above exact equal area
        assert pa.cim.arrays - pa.cim.area_ratio < 8


def test_equal_area_rounding_rules():
    # 64 KB replaced by 1.34x arrays: 16 / 1.34 = 11.94 -> www rounds up to 16 (rows of 8), floor 11, ceil 12
    assert equal_area_arrays(65536, 1.34, "www") == (16, pytest.approx(11.940, abs=1e-3))
    assert equal_area_arrays(65536, 1.34, "floor")[0] == 11
    assert equal_area_arrays(65536, 1.34, "ceil")[0] == 12
    assert equal_area_arrays(4096, 2.1, "floor")[0] == 1


def test_cim_gemm_hierarchy_on_a100_like():
    pa = place("a100_like", "rf", "analog6T")
    assert [lv.name for lv in pa.gemm.levels] == ["HBM", "L2", "SMEM", "CiM_RF_arrays", "CiM_RF_out", "CiM_RF_in",
                                                  "CiM_RF"]
    # 4 x 64 KB RF per SM / (1.34 x 4 KB) = 47.76 -> 48 arrays per SM
    assert pa.cim.arrays_per_group == 48 and pa.cim.arrays == 108 * 48
    cells = pa.gemm.levels[-1]
    assert cells.instances == 108 * 48 * 64 * 4 and cells.capacity_words == 16     # Rh x Ch weights per cell
    assert pa.gemm.compute.action_energy_pJ["compute"] == pytest.approx(pa.cim.primitive.mac_energy_pJ)
    assert cells.action_energy_pJ["read"] == 0.0
    assert cells.action_energy_pJ["write"] == pytest.approx(pa.cim.primitive.write_energy_pJ)
    assert pa.cim.capacity_bytes == 108 * 48 * ARRAY_BYTES
    l2 = place("a100_like", "l2", "digital6T")
    assert [lv.name for lv in l2.gemm.levels] == ["HBM", "CiM_L2_arrays", "CiM_L2_out", "CiM_L2_in", "CiM_L2"]
    # the periphery registers (WWW CiMOutBuffer / CiMInpBuffer): Ch partial sums, Rh inputs, zero energy
    out, inp = l2.gemm.level("CiM_L2_out"), l2.gemm.level("CiM_L2_in")
    assert (out.capacity_words, inp.capacity_words) == (1, 1) and out.action_energy_pJ["update"] == 0
    # 45 nm, 1 GHz: latency in cycles is the table's (cim_macros.yaml: 9, 144, 18, 233)
    assert [place("a100_sm", "smem", p).cim.primitive.latency_cycles for p in PRIMITIVES] == [9, 144, 18, 233]


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="valid archs: a100_like, a100_sm"):
        build_arch("h100")
    with pytest.raises(UnknownNameError, match="valid placements: none, rf, smem"):
        place("a100_sm", "l2", "analog6T")
    with pytest.raises(UnknownNameError, match="analog6T, analog8T, digital6T, digital8T"):
        place("a100_like", "rf", "analog7T")
    assert valid_placements(build_arch("a100_like")) == ["none", "rf", "smem", "l2"]


def test_preset_round_trips_through_timeloop_yaml():
    from cimscope.timeloop import arch_from_yaml, arch_to_yaml
    a = build_arch("a100_like")
    b = arch_from_yaml(arch_to_yaml(a))
    assert [(lv.name, lv.instances, lv.depth, lv.width) for lv in b.levels] == \
        [(lv.name, lv.instances, lv.depth, lv.width) for lv in a.levels]
    assert b.compute.instances == a.compute.instances


def test_nongemm_sees_cim_arrays_with_the_replaced_levels_energy_and_bandwidth():
    # placements.py doc / docs/placement.md: for NonGEMM the arrays are the level's memory with capacity
    # arrays x 4096 B and the replaced level's bandwidth and energy per byte (not the primitive's read energy)
    from cimscope.arch.placements import place
    from cimscope.gpu.simt import stream_levels
    pa = place("a100_sm", "smem", "analog6T")
    base = {s.name: s for s in stream_levels(pa.base)}
    cim = {s.name: s for s in stream_levels(pa.base, pa.cim)}
    assert cim["SMEM"].cim and cim["SMEM"].capacity_bytes == 48 * 4096            # cim_macros.yaml: smem 48
    assert cim["SMEM"].read_pJ_per_byte == base["SMEM"].read_pJ_per_byte == pytest.approx(124.70 / 32)
    assert cim["SMEM"].read_bytes_per_cycle == base["SMEM"].read_bytes_per_cycle == 42


def test_wider_operands_keep_capacity_and_energy_per_byte():
    """a100_sm at 16-bit words: the 8-bit-wide RF (4096 x 8 b) becomes 2048 x 16 b rows, same 4096 B, and its
    published 11.39 pJ per 8-bit row becomes 22.78 pJ per 16-bit row (same energy per byte)."""
    from cimscope.arch.builders import build_arch, capacity_bytes
    a8, a16 = build_arch("a100_sm", bits=8), build_arch("a100_sm", bits=16)
    for name in ("RF", "SMEM"):
        assert capacity_bytes(a16.level(name)) == capacity_bytes(a8.level(name))
        per_byte8, per_byte16 = (a.level(name).action_energy_pJ["read"] / (a.level(name).width / 8)
                                 for a in (a8, a16))
        assert per_byte16 == pytest.approx(per_byte8, rel=1e-12)
    assert a16.level("RF").width == 16 and a16.level("RF").depth == 2048
    assert a16.level("RF").action_energy_pJ["read"] == pytest.approx(2 * 11.39)
