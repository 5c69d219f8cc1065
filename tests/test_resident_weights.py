"""Resident weights (steady-state repeated inference): evaluate_network(..., resident_weights=True).

Hand-derived figures use the a100_sm preset (arch/presets/a100_sm.yaml): DRAM rows of 64 bit = 8 one-byte
words per access at 512 pJ (64 pJ/B); SMEM rows of 256 bit = 32 words per access, fill (write) 118.03 pJ;
digital6T CiM arrays write a weight word for 3.2 pJ (cim_macro plug-in, WWW cim_macros.yaml); no leakage
in this preset. The tiny network's weights: conv 16 x 8 x 3 x 3 = 1,152 B, linear 1,024 x 32 = 32,768 B
(int8; biases are NonGEMM adds).
"""

import pytest

from cimscope.errors import InputError
from cimscope.evaluate import EvalConfig, evaluate_network, gemm_key
from cimscope.workloads import export_model

FACTORY = """
import torch
def make():
    net = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(16 * 8 * 8, 32))
    return net, (torch.zeros(1, 8, 8, 8),)
"""

ATTN = """
import torch
class Attn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(64, 64, bias=False)
    def forward(self, x):
        q = self.q(x)
        return torch.matmul(q, q.transpose(-1, -2))
def make():
    return Attn(), (torch.zeros(1, 16, 64),)
"""

CONV_B, LIN_B = 16 * 8 * 3 * 3, 1024 * 32            # weight bytes (int8)
DRAM_PJ_PER_B = 512.0 / 8                             # a100_sm DRAM: 512 pJ per 8-word access
SMEM_FILL_PJ_PER_B = 118.03 / 32                      # a100_sm SMEM: 118.03 pJ per 32-word fill
DIGITAL6T_WRITE_PJ = 3.2                              # per weight word written into the CiM array


def _export(tmp_path, text, name):
    f = tmp_path / f"{name}.py"
    f.write_text(text)
    return export_model(f"{f}:make")


@pytest.fixture()
def tiny(tmp_path):
    return _export(tmp_path, FACTORY, "tiny")


def _gemms(nr):
    return {o.name: o for o in nr.ops if o.op_class == "GEMM"}


def test_cim_resident_removes_exactly_the_weight_loads_and_writes(tiny):
    # duplicate off in both (resident mode never copies weights), so both use the same CiM mapping
    kw = dict(cache=None, duplicate=False)
    st = evaluate_network(tiny, "a100_sm", "smem", "digital6T", **kw)
    rs = evaluate_network(tiny, "a100_sm", "smem", "digital6T", resident_weights=True, **kw)
    assert rs.meta["resident_level"] == "CiM_SMEM"
    assert rs.meta["resident_weight_bytes"] == CONV_B + LIN_B
    gs, gr = _gemms(st), _gemms(rs)
    for name, wb in (("convolution", CONV_B), ("linear", LIN_B)):
        a, b = gs[name], gr[name]
        assert a.weight_bytes == wb and a.extra["cim"]["mapping"]["weight_tiles"] == 1
        expected = wb * DRAM_PJ_PER_B + wb * DIGITAL6T_WRITE_PJ      # conv: 77,414.4 pJ; linear: 2,202,009.6 pJ
        assert a.energy_pJ - b.energy_pJ == pytest.approx(expected, rel=1e-9)
        assert a.energy_pJ_per_level["DRAM"] - b.energy_pJ_per_level["DRAM"] == pytest.approx(wb * DRAM_PJ_PER_B)
        assert a.energy_pJ_per_level["CiM_SMEM"] == pytest.approx(wb * DIGITAL6T_WRITE_PJ)
        assert b.energy_pJ_per_level["CiM_SMEM"] == 0.0
        assert b.energy_pJ_per_level["CiM_SMEM_MAC"] == a.energy_pJ_per_level["CiM_SMEM_MAC"]
        cim_a, cim_b = a.extra["cim"], b.extra["cim"]
        assert cim_a["weight_words_written"] == wb and cim_b["weight_words_written"] == 0
        assert cim_b["write_cycles"] == 0.0 and cim_a["write_cycles"] > 0
        assert b.cycles == max(cim_b["engine_cycles"], cim_b["compute_cycles"]) and b.cycles <= a.cycles
    assert gr["linear"].cycles < gs["linear"].cycles     # the 32 KB weight load no longer stalls the arrays
    # operators without weights are untouched
    for a, b in zip(st.ops, rs.ops):
        if a.op_class != "GEMM":
            assert (a.energy_pJ, a.cycles, a.energy_pJ_per_level) == (b.energy_pJ, b.cycles, b.energy_pJ_per_level)


def test_baseline_resident_reads_weights_from_smem_not_dram(tiny):
    rs = evaluate_network(tiny, "a100_sm", "none", None, cache=None, resident_weights=True)
    assert rs.meta["resident_level"] == "SMEM" and rs.meta["resident_capacity_bytes"] == 8192 * 32
    lin = _gemms(rs)["linear"]
    # DRAM moves only the linear's inputs (1,024 B) and outputs (32 B): 1,056 B / 8 x 512 pJ
    assert lin.energy_pJ_per_level["DRAM"] == pytest.approx((1024 + 32) * DRAM_PJ_PER_B)
    # the preload that was removed: the weights read once from DRAM and filled once into SMEM
    res = lin.extra["resident"]
    assert res["removed_words"] == {"DRAM.reads": LIN_B, "SMEM.fills": LIN_B}
    assert res["removed_pJ"]["DRAM"] == pytest.approx(LIN_B * DRAM_PJ_PER_B)
    assert res["removed_pJ"]["SMEM"] == pytest.approx(LIN_B * SMEM_FILL_PJ_PER_B)
    # the weights are still read from SMEM every inference
    assert lin.energy_pJ_per_level["SMEM"] >= LIN_B / 32 * 124.7
    st = evaluate_network(tiny, "a100_sm", "none", None, cache=None)
    assert rs.energy_pJ < st.energy_pJ and rs.latency_s <= st.latency_s


def test_dynamic_weight_ops_are_unaffected(tmp_path):
    wl = _export(tmp_path, ATTN, "attn")
    dyn = [o for o in wl.gemm_ops() if o.attrs.get("dynamic_weight")]
    assert len(dyn) == 1
    for pl, pr in (("none", None), ("smem", "digital6T")):
        st = evaluate_network(wl, "a100_sm", pl, pr, cache=None, duplicate=False)
        rs = evaluate_network(wl, "a100_sm", pl, pr, cache=None, duplicate=False, resident_weights=True)
        assert rs.meta["resident_weight_bytes"] == 64 * 64          # only the static q projection
        a, b = _gemms(st)[dyn[0].name], _gemms(rs)[dyn[0].name]
        assert "resident" not in b.extra
        assert (a.energy_pJ, a.cycles, a.energy_pJ_per_level) == (b.energy_pJ, b.cycles, b.energy_pJ_per_level)
        q = [o for o in rs.ops if o.op_class == "GEMM" and not o.name == dyn[0].name][0]
        assert q.extra["resident"]["removed_words"]


def test_capacity_error_names_the_missing_bytes(tiny):
    # a100_sm rf: 3 analog6T arrays x 4,096 B = 12,288 B < 33,920 B of weights: 21,632 B missing
    with pytest.raises(InputError, match=r"33,920 B of static weights.*holds 12,288 B: missing 21,632 B"):
        evaluate_network(tiny, "a100_sm", "rf", "analog6T", cache=None, resident_weights=True)


def test_capacity_error_on_the_cli_and_in_compare(tiny, tmp_path, capsys):
    from cimscope.cli import main
    f = tmp_path / "tiny.py"
    rc = main(["evaluate", "--model", f"{f}:make", "--arch", "a100_sm", "--placement", "rf", "--resident-weights",
               "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and "cimscope: error: resident weights:" in err and "missing 21,632 B" in err
    from cimscope.sweep import run_grid
    cfgs = [EvalConfig(arch="a100_sm", placement="rf", primitive="analog6T", resident_weights=True),
            EvalConfig(arch="a100_sm", placement="smem", primitive="analog6T", resident_weights=True)]
    g = run_grid({"tiny": tiny}, cfgs, workers=1, cache_dir=None, progress=False)
    assert "missing 21,632 B" in g.errors[("tiny", "rf/analog6T")]
    direct = evaluate_network(tiny, "a100_sm", "smem", "analog6T", cache=None, resident_weights=True)
    assert g.networks[("tiny", "smem/analog6T")].energy_pJ == pytest.approx(direct.energy_pJ, rel=1e-12)


def test_default_is_the_per_inference_result(tiny):
    """resident_weights=False gives the figures of the per-inference code before the flag existed (commit
    4795999 on these inputs), and the cache keys of per-inference results did not change."""
    st = evaluate_network(tiny, "a100_sm", "none", None, cache=None)
    off = evaluate_network(tiny, "a100_sm", "none", None, cache=None, resident_weights=False)
    assert [(o.energy_pJ, o.cycles) for o in st.ops] == [(o.energy_pJ, o.cycles) for o in off.ops]
    lin = _gemms(st)["linear"]
    # hand: weights, inputs and outputs each cross DRAM once: (32,768 + 1,024 + 32) B x 64 pJ/B
    assert lin.energy_pJ_per_level["DRAM"] == pytest.approx((LIN_B + 1024 + 32) * DRAM_PJ_PER_B)
    # figures of commit 4795999 (before resident_weights existed), same inputs, except the conv's baseline
    # mapping: the constraint-safe mapper of the tlmodel merge finds a cheaper one (274,145 pJ; was 2528076.495)
    assert st.energy_pJ == pytest.approx(2506228.185039422, rel=1e-12)
    assert lin.energy_pJ == pytest.approx(2174596.096, rel=1e-12) and lin.cycles == 1056.0
    cim = evaluate_network(tiny, "a100_sm", "smem", "digital6T", cache=None)
    assert _gemms(cim)["linear"].extra["cim"]["weight_words_written"] == LIN_B
    # cache keys: the per-inference key is unchanged, the resident key differs
    import hashlib
    import json
    from dataclasses import asdict
    from cimscope.study import RESULT_VERSION, fingerprint
    op = tiny.gemm_ops()[0]
    cfg = EvalConfig(arch="a100_sm", placement="smem", primitive="digital6T")
    old = asdict(cfg)
    old.pop("resident_weights")
    payload = {"v": RESULT_VERSION, "shape": op.shape_key(), "cfg": old,
               "arch": fingerprint(cfg, 8)}
    assert gemm_key(op, cfg) == hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    assert gemm_key(op, EvalConfig(arch="a100_sm", placement="smem", primitive="digital6T",
                                   resident_weights=True)) != gemm_key(op, cfg)




def test_resident_cim_through_timeloop_stats_equals_builtin(standin_binaries, tiny):
    """The removal reads the typed per-level stats read from timeloop-model's stats file just as the builtin's."""
    kw = dict(cache=None, resident_weights=True)
    tl = evaluate_network(tiny, "a100_sm", "smem", "digital6T", engine="timeloop", **kw)
    bi = evaluate_network(tiny, "a100_sm", "smem", "digital6T", engine="builtin", **kw)
    assert tl.engine == "timeloop"
    for a, b in zip(tl.ops, bi.ops):
        assert a.energy_pJ == pytest.approx(b.energy_pJ, rel=1e-6), a.name
        assert a.cycles == pytest.approx(b.cycles, rel=1e-6), a.name
    assert _gemms(tl)["linear"].energy_pJ_per_level["CiM_SMEM"] == 0.0


def test_resident_baseline_through_timeloop_mapper_keeps_weights_in_smem(standin_binaries, tiny):
    """The keep constraint reaches timeloop-mapper (arch constraints file); the preload is removed from its
    stats: the linear's DRAM traffic is its inputs and outputs only, as with the builtin engine."""
    tl = evaluate_network(tiny, "a100_sm", "none", None, engine="timeloop", cache=None, resident_weights=True)
    lin = _gemms(tl)["linear"]
    assert lin.extra["resident"]["removed_words"] == {"DRAM.reads": LIN_B, "SMEM.fills": LIN_B}
    assert lin.energy_pJ_per_level["DRAM"] == pytest.approx((1024 + 32) * DRAM_PJ_PER_B)


def test_bandwidth_slowdown_and_vector_accesses_by_hand():
    # the one copy of Timeloop's bandwidth model shared by the engine (model/cost.py) and the resident
    # post-processing: a100_sm SMEM reads/writes 42 words per cycle (a100.yaml bandwidth_bytes_per_cycle)
    from cimscope.arch.builders import build_arch
    from cimscope.model.cost import bandwidth_slowdown, vector_accesses
    smem = build_arch("a100_sm").level("SMEM")
    assert bandwidth_slowdown(smem, 840, 420, 10) == pytest.approx(0.5)      # 84 reads/cycle vs 42
    assert bandwidth_slowdown(smem, 420, 420, 10) == 1.0                     # exactly at the bandwidth
    assert bandwidth_slowdown(smem, 840, 420, 0) == 1.0                      # nothing computed: no slowdown
    assert vector_accesses(64, 32) == 2 and vector_accesses(65, 32) == 3 and vector_accesses(0, 32) == 0
    assert vector_accesses(64 * (1 + 1e-12), 32) == 2                        # float noise is not a new row


@pytest.mark.parametrize("M,N,K,bw", [(12, 7, 3, 0.7), (12, 14, 24, 0.3), (28, 7, 24, 0.3), (28, 22, 24, 0.3)])
def test_removing_nothing_keeps_the_engines_cycles_on_bandwidth_bound_levels(M, N, K, bw):
    """Residency recomputes cycles with the engine's own rule (cost.bandwidth_slowdown per data space,
    cost.level_cycles without tolerance): removing nothing gives the engine's cycles exactly (a summed demand and
    ceil(x - 1e-9) were one cycle short on these shapes)."""
    from cimscope import ir
    from cimscope.mappers import map_problem
    from cimscope.pipeline.residency import remove_weight_traffic

    e = {"read": 200.0, "write": 200.0, "update": 200.0}
    arch = ir.Arch("a3", [
        ir.Level("DRAM", "DRAM", depth=None, action_energy_pJ=e, read_bandwidth=bw, write_bandwidth=bw),
        ir.Level("GLB", "SRAM", depth=512, action_energy_pJ={"read": 6.0, "write": 7.0, "update": 7.0}),
        ir.Level("RF", "regfile", instances=4, mesh_x=4, depth=32,
                 action_energy_pJ={"read": 0.4, "write": 0.5, "update": 0.5}),
    ], ir.ComputeLevel("MAC", instances=4, mesh_x=4, action_energy_pJ={"compute": 0.8}))
    problem = ir.Problem(name="gemm", dims={"M": M, "N": N, "K": K}, dataspaces=[
        ir.Tensor("A", "input", [[("M", 1)], [("K", 1)]], 8),
        ir.Tensor("B", "weight", [[("K", 1)], [("N", 1)]], 8),
        ir.Tensor("Z", "output", [[("M", 1)], [("N", 1)]], 8, read_write=True)])
    _, r = map_problem(problem, arch, max_evaluations=200, cache=False, progress=False)
    assert r.cycles > r.compute_cycles                       # bandwidth-bound
    assert remove_weight_traffic(r, arch, "B", {}).cycles == r.cycles
