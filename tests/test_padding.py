"""Tile quantization (cimscope.padding): awkward GEMM dimensions are padded when that maps better, padded work
is counted as real work, nice dimensions are left alone."""
import pytest

from cimscope import ir
from cimscope.arch.builders import build_arch
from cimscope.gpu.roofline import roofline_s
from cimscope.evaluate import EvalConfig, evaluate_gemm, evaluate_op, gemm_op, placed_arch
from cimscope.padding import (MAX_MAC_OVERHEAD, awkward_dims, candidate_paddings, fanouts, pad, padded_sizes,
                              padding_info, padding_note)

# a shorter mapper search keeps the test fast; the unpadded prime shape is stuck at 12-way parallelism
# whatever the budget (every dimension but the 12 heads is prime or a power of two the 197s cannot join)
FAST = dict(mapper_max_evaluations=3000)


@pytest.fixture(autouse=True)
def _mapper_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path_factory.getbasetemp() / "mapper-cache"))


def attention_qk(tokens: int = 197, heads: int = 12, head_dim: int = 64) -> ir.Op:
    """ViT-B/16's QK^T as the exporter writes it (B heads, M = N = tokens, K = head dim)."""
    return ir.Op(
        name="sdpa.qk", target="aten.scaled_dot_product_attention.default", module="attn", op_class=ir.GEMM,
        kind="gemm", dims={"B": heads, "M": tokens, "N": tokens, "K": head_dim},
        tensors=[ir.Tensor("Inputs", "input", [[("B", 1)], [("M", 1)], [("K", 1)]], 8),
                 ir.Tensor("Weights", "weight", [[("B", 1)], [("K", 1)], [("N", 1)]], 8),
                 ir.Tensor("Outputs", "output", [[("B", 1)], [("M", 1)], [("N", 1)]], 8, read_write=True)],
        macs=heads * tokens * tokens * head_dim, bytes_read=2 * heads * tokens * head_dim,
        bytes_written=heads * tokens * tokens, attrs={"dynamic_weight": True})


def test_fanouts_and_awkward_dims_of_a100_like():
    arch = build_arch("a100_like")
    # L2 -> 108 SMs, SM -> 4 sub-partitions, RF -> 16 x 32 tensor-core MACs (512 int8 MACs per tensor core)
    assert fanouts(arch) == (4, 16, 32, 108)
    p = attention_qk().to_problem()
    assert awkward_dims(p, arch) == ["M", "N"]            # 197 is prime: 1 of 4 sub-partitions
    # next multiples of 2, 4 (= 8), 16, 32 and of the 108 SMs, at most 25 % above 197
    assert padded_sizes(197, fanouts(arch)) == [198, 200, 208, 216, 224]
    assert awkward_dims(gemm_op(256, 768, 3072).to_problem(), arch) == []
    assert awkward_dims(gemm_op(1, 1000, 768).to_problem(), arch) == []     # 1000 = 8 x 125 fills every fanout


def test_candidates_only_add_work_and_say_so():
    arch = build_arch("a100_like")
    p = attention_qk().to_problem()
    cands = candidate_paddings(p, arch)
    # per multiple: M and N together, M alone, N alone (5 sizes x 3)
    assert len(cands) == 15
    real = 12 * 197 * 197 * 64
    sizes = set()
    for q, note in cands:
        assert all(q.dims[d] >= p.dims[d] for d in p.dims) and q.dims["B"] == 12 and q.dims["K"] == 64
        info = padding_info(p, q)
        assert info["real_macs"] == real
        assert real < info["padded_macs"] <= real * (1 + MAX_MAC_OVERHEAD)
        assert info["utilization"] == pytest.approx(real / info["padded_macs"])
        assert note == padding_note(info) and note.startswith("padded ")
        sizes.add((q.dims["M"], q.dims["N"]))
    assert (208, 208) in sizes and (197, 208) in sizes and (208, 197) in sizes
    info = padding_info(p, pad(p, {"M": 208}))
    # 208 / 197 - 1 = 5.6 % more MACs = 5.3 % of the padded MACs
    assert padding_note(info) == "padded M 197->208: 5.3% padded MACs (tile quantization)"
    assert candidate_paddings(p, arch) == cands                                   # deterministic
    assert padding_info(p, p) is None and padding_note(None) == ""
    with pytest.raises(ValueError, match="drop real work"):
        pad(p, {"M": 196})


def test_prime_attention_gemm_reaches_its_roofline_padded():
    op = attention_qk()
    row = evaluate_op(op, EvalConfig(arch="a100_like", placement="none", **FAST))
    bound = roofline_s(op)                 # max(2 MACs / 624 TOPS, unique bytes / 1555 GB/s)
    assert bound == pytest.approx((2 * 12 * 197 * 64 + 12 * 197 * 197) / 1555e9)
    # unpadded, only the 12 heads run in parallel: 197 x 197 sequential steps of 64 MACs = 38809 cycles
    # (27.5 us at 1.41 GHz, 55x the bound); padded, the tokens spread over the SMs and sub-partitions
    assert bound <= row.latency_s <= 3 * bound
    pad_ = row.extra["padding"]
    assert row.macs == op.macs == pad_["real_macs"] and pad_["padded_macs"] > op.macs
    assert row.extra["padding_candidates"] == 15
    assert "padded M 197->" in row.note and "% padded MACs" in row.note
    assert "weight operand is an activation" in row.note
    r = evaluate_gemm(op, EvalConfig(arch="a100_like", placement="none", **FAST))
    assert r["computes"] == pad_["padded_macs"]                # the padded MACs ran
    arch = placed_arch(EvalConfig(), 8).gemm
    # utilization counts real MACs only
    assert r["utilization"] == pytest.approx(op.macs / (r["cycles"] * arch.compute.instances))


def test_nice_gemm_is_not_padded():
    op = gemm_op(256, 768, 768)
    assert candidate_paddings(op.to_problem(), build_arch("a100_like")) == []
    r = evaluate_gemm(op, EvalConfig(arch="a100_like", placement="none", **FAST))
    assert "padding" not in r["extra"] and r["extra"]["padding_candidates"] == 0 and "note" not in r
    assert r["computes"] == op.macs


def test_prime_attention_gemm_padded_on_cim(monkeypatch):
    import cimscope.pipeline.candidates
    op = attention_qk()
    cfg = EvalConfig(arch="a100_like", placement="rf", primitive="analog6T")
    padded = evaluate_gemm(op, cfg)
    info = padded["extra"]["padding"]
    assert info["padded_macs"] > op.macs and "padded" in padded["note"]
    # every MAC that ran, padded ones included, is a CiM MAC at the primitive's energy
    pa = placed_arch(cfg, 8)
    mac_pJ = pa.gemm.compute.action_energy_pJ["compute"]
    assert padded["energy_pJ_per_level"]["CiM_RF_MAC"] == pytest.approx(info["padded_macs"] * mac_pJ)
    # without padding N = 197 fills 1 of the 4 columns of an array: far slower
    monkeypatch.setattr(cimscope.pipeline.candidates, "candidate_paddings", lambda problem, arch: [])
    plain = evaluate_gemm(op, cfg)
    assert "padding" not in plain["extra"]
    assert plain["energy_pJ_per_level"]["CiM_RF_MAC"] == pytest.approx(op.macs * mac_pJ)
    assert padded["cycles"] * 10 < plain["cycles"]
    assert padded["energy_pJ"] * padded["cycles"] < plain["energy_pJ"] * plain["cycles"]
