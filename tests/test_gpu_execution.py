"""The GPU execution model (cimscope.gpu.execution / fusion) on hand-built workloads, figures worked by hand."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cimscope.errors import InputError, UnknownNameError
from cimscope.gpu.execution import (a100_params, class_shares, class_times, gpu_params, gpu_times,
                                    op_roofline_s, shares_text, summary)
from cimscope.gpu.fusion import calls, eager_kernels, fused_kernels, kernel_bytes
from cimscope.ir import Op, Tensor, Workload

P = a100_params()
US = 1e-6


def _t(name: str, role: str, bits: int = 8) -> Tensor:
    return Tensor(name=name, role=role, projection=[[("X", 1)]], bits=bits)


def op(name, kind="elementwise", cls="arithmetic", *, macs=0, elem=0, rd=0, wr=0, bits=8, count=1, **attrs):
    tensors = [_t("Inputs", "input", bits), _t("Outputs", "output", bits)]
    if kind == "gemm":
        tensors.insert(1, _t("Weights", "weight", bits))
    return Op(name=name, target=attrs.pop("target", f"aten.{name.split('.')[0]}.default"), module="m",
              op_class=cls, kind=kind, dims={"X": 1}, tensors=tensors, macs=macs, elem_ops=elem, bytes_read=rd,
              bytes_written=wr, attrs=attrs, count=count)


def wl(*ops: Op) -> Workload:
    return Workload(model="hand", ops=list(ops))


def total(ts) -> float:
    return sum(t.total_s for t in ts)


def test_default_parameters_are_the_cited_figures():
    assert (P.launch_us, P.dispatch_us) == (5.0, 3.4)
    assert P.tensor_ops_per_s("fp16") == P.tensor_ops_per_s("bf16") == 312e12
    assert P.tensor_ops_per_s("int8") == 624e12
    assert (P.simt_ops_per_s, P.hbm_bytes_per_s) == (19.5e12, 1555e9)


def test_eager_call_pays_dispatch_and_one_launch_per_kernel_a_view_only_dispatch():
    add = op("add", rd=3110, wr=1555, elem=100)            # 4665 B at 8 bit -> 9330 B at fp16
    view = op("view", kind="memory", cls="memory", view=True)
    ts = gpu_times(wl(add, view), "fp16", "eager")
    assert ts[0].dispatch_s == pytest.approx(3.4 * US) and ts[0].launch_s == pytest.approx(5.0 * US)
    assert ts[0].kernel_s == pytest.approx(9330 / 1555e9)
    assert (ts[1].kernel, ts[1].kernel_s, ts[1].launch_s) == (-1, 0.0, 0.0)
    assert ts[1].dispatch_s == pytest.approx(3.4 * US)
    fused = gpu_times(wl(add, view), "fp16", "fused")       # compiled graph: no dispatch, views vanish
    assert fused[0].dispatch_s == 0.0 and fused[0].launch_s == pytest.approx(5.0 * US)
    assert fused[1].total_s == 0.0


def test_overheads_are_overridable_and_checked():
    add = op("add", rd=2, wr=1, elem=1)
    p = gpu_params({"launch_us": 0, "dispatch_us": 10})
    assert gpu_times(wl(add), "fp16", "eager", p)[0].dispatch_s == pytest.approx(10 * US)
    assert gpu_times(wl(add), "fp16", "eager", p)[0].launch_s == 0.0
    with pytest.raises(UnknownNameError, match="launch_us"):
        gpu_params({"lauch_us": 1})
    with pytest.raises(InputError, match="hbm_bytes_per_s"):
        gpu_params({"hbm_bytes_per_s": 0})
    with pytest.raises(UnknownNameError, match="fp16"):
        gpu_times(wl(add), "fp32", "eager")
    with pytest.raises(UnknownNameError, match="eager"):
        gpu_times(wl(add), "fp16", "lazy")


def test_dtype_sets_tensor_core_rate_and_bytes():
    gemm = op("mm", "gemm", "GEMM", macs=10**12, rd=10, wr=10)          # compute-bound
    assert op_roofline_s(gemm, "fp16") == pytest.approx(2e12 / 312e12)
    assert op_roofline_s(gemm, "bf16") == op_roofline_s(gemm, "fp16")
    assert op_roofline_s(gemm, "int8") == pytest.approx(2e12 / 624e12)
    relu = op("relu", cls="activation", elem=10, rd=1555000, wr=1555000)  # HBM-bound, exported at 8 bit
    assert op_roofline_s(relu, "int8") == pytest.approx(2 * 1555000 / 1555e9)
    assert op_roofline_s(relu, "fp16") == pytest.approx(2 * op_roofline_s(relu, "int8"))
    relu16 = op("relu", cls="activation", elem=10, rd=1555000, wr=1555000, bits=16)   # exported at 16 bit
    assert op_roofline_s(relu16, "fp16") == pytest.approx(op_roofline_s(relu, "int8"))


def test_elementwise_chain_fuses_into_its_gemm_producer():
    gemm = op("addmm", "gemm", "GEMM", macs=1000, rd=600, wr=400)
    add = op("add", rd=800, wr=400, elem=400)              # residual: reads gemm out (400) + 400 B more
    gelu = op("gelu", cls="activation", rd=400, wr=400, elem=4000)
    norm = op("native_layer_norm", "norm", "normalization", rd=400, wr=400, elem=2000)
    ops = [gemm, op("view", kind="memory", cls="memory", view=True), add, gelu, norm]
    ks = fused_kernels(calls(ops))
    assert [[c.name for c in k.calls] for k in ks] == [["addmm", "add", "gelu"], ["native_layer_norm"]]
    assert ks[0].kind == "chain"
    assert ks[0].ext_bytes == [600.0, 400.0, 400.0]        # gemm reads, residual, gelu writes
    assert len(eager_kernels(calls(ops))) == 4
    eager, fused = gpu_times(wl(*ops), "fp16", "eager"), gpu_times(wl(*ops), "fp16", "fused")
    assert [t.kernel for t in fused] == [0, -1, 0, 0, 1]
    assert fused[0].launch_s == pytest.approx(5 * US) and fused[2].launch_s == fused[3].launch_s == 0.0
    assert total(fused) < total(eager)
    # the fused kernel: max(tensor, SIMT, HBM) of its members together; bytes at fp16 = 2x the 8-bit counts
    k_s = max(2 * 1000 / 312e12, 4400 / 19.5e12, 2 * 1400 / 1555e9)
    assert sum(t.kernel_s for t in fused[:4]) == pytest.approx(k_s)


def _attention_ops(parts: bool):
    qk = op("bmm", "gemm", "GEMM", macs=10**6, rd=4000, wr=9000, dynamic_weight=True)
    mask = op("add", rd=9500, wr=9000, elem=9000)          # scores + 500 B mask
    sm = [op(f"_softmax.{p}", "softmax", "logit_computation", rd=9000, wr=9000 if p == "divide" else 90,
             elem=9000, part=p, target="aten._softmax.default") for p in ("max", "exp_sum", "divide")]
    av = op("bmm_1", "gemm", "GEMM", macs=10**6, rd=11000, wr=2000, dynamic_weight=True, target="aten.bmm.default")
    return [qk, op("view", kind="memory", cls="memory", view=True), mask, *sm, av]


def test_attention_becomes_one_flash_kernel_when_fused():
    ops = _attention_ops(True)
    cl = calls(ops)
    assert [c.name for c in cl] == ["bmm", "view", "add", "_softmax", "bmm_1"]   # softmax parts: one call
    ks = fused_kernels(cl)
    assert len(ks) == 1 and ks[0].kind == "attention"
    # Q,K (4000) + mask (500) + V (11000 - 9000 scores) + output (2000): the scores never reach HBM
    assert ks[0].bytes == 4000 + 500 + 2000 + 2000
    assert len(eager_kernels(cl)) == 4                     # bmm, add, one softmax kernel, bmm
    assert kernel_bytes(cl[3:4]) == [18000.0]              # a split call reads its input once, writes once


def test_split_attention_call_is_one_kernel_eager_and_fused():
    parts = [op("sdpa.qk", "gemm", "GEMM", macs=10**6, rd=4000, wr=9000, part="qk"),
             op("sdpa.max", "softmax", "logit_computation", rd=9000, wr=90, elem=9000, part="max"),
             op("sdpa.av", "gemm", "GEMM", macs=10**6, rd=11000, wr=2000, part="av")]
    for p in parts:
        p.target = "aten.scaled_dot_product_attention.default"
    for kernels in (eager_kernels(calls(parts)), fused_kernels(calls(parts))):
        assert len(kernels) == 1 and kernels[0].kind == "attention"
    ts = gpu_times(wl(*parts), "fp16", "eager")
    assert sum(t.dispatch_s for t in ts) == pytest.approx(3.4 * US)     # one framework call
    assert sum(t.launch_s for t in ts) == pytest.approx(5.0 * US)       # one kernel


def test_class_shares_and_overhead_owner():
    ops = [op("addmm", "gemm", "GEMM", macs=10**9, rd=10, wr=10), op("relu", cls="activation", rd=10, wr=10),
           op("view", kind="memory", cls="memory", view=True, count=3)]
    ts = gpu_times(wl(*ops), "fp16", "eager")
    shares = class_shares(ts)
    ct = class_times(ts)
    assert sum(v for k, v in shares.items() if k != "NonGEMM") == pytest.approx(100.0)
    assert shares["NonGEMM"] == pytest.approx(100 - shares["GEMM"])
    assert ct["memory"] == pytest.approx(3 * 3.4 * US)                  # count folds occurrences
    assert ct["GEMM"] == pytest.approx(8.4 * US + 2e9 / 312e12)
    s = summary(wl(*ops))
    assert s["eager"]["total_s"] >= s["fused"]["total_s"]
    text = shares_text(s)
    assert f"NonGEMM {s['eager']['shares_pct']['NonGEMM']:.1f} %" in text and "memory" in text
    assert s["roofline"]["total_s"] == pytest.approx(2e9 / 312e12 + 2 * 20 / 1555e9)


_kinds = st.sampled_from(["gemm", "dyn", "elementwise", "view", "copy", "norm", "softmax"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_kinds, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**9)),
                min_size=1, max_size=12), st.sampled_from(["fp16", "bf16", "int8"]))
def test_eager_is_never_faster_than_fused(spec, dtype):
    ops = []
    for i, (kind, rd, wr, work) in enumerate(spec):
        if kind in ("gemm", "dyn"):
            ops.append(op(f"mm{i}", "gemm", "GEMM", macs=work, rd=rd, wr=wr, dynamic_weight=kind == "dyn"))
        elif kind == "view":
            ops.append(op(f"view{i}", "memory", "memory", view=True))
        elif kind == "copy":
            ops.append(op(f"clone{i}", "memory", "memory", rd=rd, wr=wr))
        elif kind == "norm":
            ops.append(op(f"norm{i}", "norm", "normalization", rd=rd, wr=wr, elem=work))
        elif kind == "softmax":
            ops.append(op(f"sm{i}", "softmax", "logit_computation", rd=rd, wr=wr, elem=work))
        else:
            ops.append(op(f"add{i}", rd=rd, wr=wr, elem=work))
    w = wl(*ops)
    assert total(gpu_times(w, dtype, "eager")) >= total(gpu_times(w, dtype, "fused")) * (1 - 1e-12)


def test_inference_batch_norm_folds_into_its_convolution_but_layer_norm_does_not():
    conv = op("convolution", "conv", "GEMM", macs=10**6, rd=1000, wr=800, target="aten.convolution.default")
    bn = op("bn", "norm", "normalization", rd=808, wr=800, elem=3200,
            target="aten._native_batch_norm_legit_no_training.default")
    relu = op("relu", cls="activation", rd=800, wr=800, elem=800)
    ln = op("ln", "norm", "normalization", rd=800, wr=800, elem=4000, target="aten.native_layer_norm.default")
    ks = fused_kernels(calls([conv, bn, relu, ln]))
    assert [[c.name for c in k.calls] for k in ks] == [["convolution", "bn", "relu"], ["ln"]]
    assert ks[0].ext_bytes == [1000.0, 8.0, 800.0]            # the conv's reads, bn's statistics, relu's writes
