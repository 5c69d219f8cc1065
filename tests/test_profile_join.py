"""Join math of cimscope.profile.join on hand-built measured and modelled results (figures worked by hand)."""
from types import SimpleNamespace

import pytest

from cimscope.errors import InputError
from cimscope.ir import Op
from cimscope.profile.classes import OpRecord
from cimscope.profile.join import join_classes, join_ops, match_summary
from cimscope.profile.modelled import class_latency, modelled_ops

# Measured (s per inference): GEMM 6 ms, normalization 1 ms, activation 0.5 ms, memory 0.5 ms -> 8 ms total,
# shares 75 / 12.5 / 6.25 / 6.25 %.
MEASURED = {"GEMM": 6e-3, "normalization": 1e-3, "activation": 0.5e-3, "memory": 0.5e-3}

# Modelled rows as a NetworkResult-like object: conv 0.3 ms + 0.2 ms (GEMM 0.5 ms), bn 0.2 ms x count 2
# (normalization 0.4 ms), relu 0.1 ms -> 1.0 ms; shares GEMM 50, normalization 40, activation 10, memory 0 %.
NETWORK_RESULT = SimpleNamespace(ops=[
    SimpleNamespace(name="conv1", target="aten.convolution.default", module="conv1", op_class="GEMM",
                    energy_pJ=10.0, latency_s=0.3e-3, cycles=300.0),
    {"name": "conv2", "target": "aten.convolution.default", "module": "layer1.0.conv1", "op_class": "GEMM",
     "energy_pJ": 5.0, "latency_s": 0.2e-3, "cycles": 200.0},
    SimpleNamespace(name="bn", target="aten._native_batch_norm_legit_no_training.default", module="bn1",
                    op_class="normalization", energy_pJ=1.0, latency_s=0.2e-3, cycles=20.0, count=2),
    SimpleNamespace(name="relu", target="aten.relu.default", module="relu", op_class="activation",
                    energy_pJ=0.5, latency_s=0.1e-3, cycles=10.0),
])


def test_modelled_rows_and_class_latency():
    ops = modelled_ops(NETWORK_RESULT)
    assert [o.name for o in ops] == ["conv1", "conv2", "bn", "relu"]
    assert ops[2].latency_s == pytest.approx(0.4e-3) and ops[2].energy_pJ == pytest.approx(2.0)
    lat = class_latency(ops)
    assert lat["GEMM"] == pytest.approx(0.5e-3) and lat["normalization"] == pytest.approx(0.4e-3)
    assert lat["activation"] == pytest.approx(0.1e-3) and lat["memory"] == 0.0


def test_class_join_error_in_points_and_ratio():
    rows = {r.op_class: r for r in join_classes(MEASURED, class_latency(modelled_ops(NETWORK_RESULT)))}
    assert list(rows) == ["GEMM", "activation", "normalization", "memory", "GEMM total", "NonGEMM total"]
    g = rows["GEMM"]
    assert g.measured_share_pct == pytest.approx(75.0) and g.modelled_share_pct == pytest.approx(50.0)
    assert g.diff_pp == pytest.approx(-25.0) and g.share_ratio == pytest.approx(50 / 75)
    n = rows["normalization"]
    assert n.diff_pp == pytest.approx(40 - 12.5) and n.share_ratio == pytest.approx(3.2)
    a = rows["activation"]
    assert a.diff_pp == pytest.approx(10 - 6.25) and a.share_ratio == pytest.approx(1.6)
    m = rows["memory"]
    assert m.modelled_share_pct == 0.0 and m.diff_pp == pytest.approx(-6.25) and m.share_ratio == 0.0
    ng = rows["NonGEMM total"]
    assert ng.measured_share_pct == pytest.approx(25.0) and ng.modelled_share_pct == pytest.approx(50.0)
    assert ng.diff_pp == pytest.approx(25.0) and ng.share_ratio == pytest.approx(2.0)
    assert ng.measured_s == pytest.approx(2e-3) and ng.modelled_s == pytest.approx(0.5e-3)
    # shares of the classes add up to 100 on both sides
    cls_rows = [r for k, r in rows.items() if not k.endswith("total")]
    assert sum(r.measured_share_pct for r in cls_rows) == pytest.approx(100.0)
    assert sum(r.modelled_share_pct for r in cls_rows) == pytest.approx(100.0)


def test_class_join_without_model_and_zero_measured_share():
    rows = join_classes(MEASURED, None)
    assert all(r.modelled_s is None and r.diff_pp is None for r in rows)
    rows = {r.op_class: r for r in join_classes({"GEMM": 1.0}, {"GEMM": 1.0, "pooling": 1.0})}
    assert rows["pooling"].measured_share_pct == 0.0 and rows["pooling"].share_ratio is None
    assert rows["pooling"].diff_pp == pytest.approx(50.0)
    with pytest.raises(InputError, match="unknown operator classes"):
        join_classes({"matmulish": 1.0})


def test_modelled_rows_are_validated():
    with pytest.raises(InputError, match="no per-operator rows"):
        modelled_ops(SimpleNamespace(energy_pJ=1.0))
    with pytest.raises(InputError, match="class 'matmulish'"):
        modelled_ops([{"name": "x", "op_class": "matmulish", "latency_s": 1.0}])


def _op(name, target, module, op_class, shapes=None, **attrs):
    if shapes:                       # the exporter's spelling: in_shape (+ weight_shape)
        attrs.update({"in_shape": shapes[0], **({"weight_shape": shapes[1]} if len(shapes) > 1 else {})})
    return Op(name=name, target=target, module=module, op_class=op_class, kind="other", dims={"N": 1},
              tensors=[], attrs=attrs)


def _rec(name, chain, module, op_class, t, shapes=None):
    return OpRecord(name=name, work=chain[-1], chain=chain, module=module, input_shapes=shapes or [],
                    op_class=op_class, time_s=t, class_time_s={op_class: t})


def test_operator_join_by_module_target_class_and_shape():
    conv = ["aten::conv2d", "aten::convolution", "aten::_convolution", "aten::mkldnn_convolution"]
    measured = [
        _rec("aten::conv2d", conv, "conv1", "GEMM", 3e-3, [[1, 3, 8, 8], [4, 3, 3, 3], [4]]),
        _rec("aten::batch_norm", ["aten::batch_norm", "aten::native_batch_norm"], "bn1", "normalization", 1e-3),
        _rec("aten::relu_", ["aten::relu_", "aten::clamp_min_"], "relu", "activation", 0.25e-3),
        _rec("aten::relu_", ["aten::relu_", "aten::clamp_min_"], "relu", "activation", 0.25e-3),
        _rec("aten::conv2d", conv, "layer1.0.conv1", "GEMM", 3e-3, [[1, 4, 6, 6], [4, 4, 3, 3], [4]]),
        _rec("aten::flatten", ["aten::flatten", "aten::view"], "", "memory", 0.5e-3),
        _rec("aten::my_op", ["aten::my_op"], "", "other", 1e-3),
    ]
    exported = [
        _op("conv1", "aten.convolution.default", "conv1", "GEMM", [[1, 3, 8, 8], [4, 3, 3, 3], [4]]),
        _op("bn", "aten._native_batch_norm_legit_no_training.default", "bn1", "normalization"),
        _op("relu", "aten.relu.default", "relu", "activation"),
        _op("relu_1", "aten.relu.default", "relu", "activation"),
        _op("conv2", "aten.convolution.default", "L['self'].layer1[0].conv1", "GEMM",
            [[1, 4, 6, 6], [4, 4, 3, 3], [4]]),
        _op("view", "aten.view.default", "", "memory"),
    ]
    rows = join_ops(measured, exported, modelled_ops(NETWORK_RESULT))
    assert [r.modelled_ops for r in rows] == [["conv1"], ["bn"], ["relu"], ["relu_1"], ["conv2"], ["view"], []]
    assert rows[0].match == "module+target+shape"
    assert rows[1].match == "module+class"                         # batch-norm spellings differ by target
    assert rows[4].match == "module+target+shape"                  # torch.export path spelling normalised
    assert rows[5].match == "target"
    assert rows[0].modelled_s == pytest.approx(0.3e-3)
    assert rows[0].modelled_share_pct == pytest.approx(30.0)       # 0.3 of the modelled 1.0 ms
    assert rows[1].modelled_s == pytest.approx(0.4e-3)             # count 2
    assert rows[5].modelled_s is None                              # exported, but no modelled row
    assert rows[0].measured_share_pct == pytest.approx(100 * 3 / 9)
    s = match_summary(rows)
    assert s["calls"] == 7 and s["matched_calls"] == 6
    assert s["matched_time_pct"] == pytest.approx(100 * 8 / 9)


def test_operator_join_rejects_shape_mismatch_without_target():
    measured = [_rec("aten::my_gemm", ["aten::my_gemm"], "fc", "GEMM", 1e-3, [[2, 8], [8, 4]])]
    wrong = [_op("fc", "aten.mm.default", "fc", "GEMM", [[2, 16], [16, 4]])]
    assert join_ops(measured, wrong)[0].match == ""
    right = [_op("fc", "aten.mm.default", "fc", "GEMM", [[2, 8], [8, 4]])]
    assert join_ops(measured, right)[0].match == "module+class+shape"


def test_operator_join_sums_the_parts_of_a_split_operator():
    # the exporter writes softmax as three Ops (max, exp-sum, divide); the profiler sees one aten::softmax
    measured = [_rec("aten::softmax", ["aten::softmax", "aten::_softmax"], "", "logit_computation", 2e-3,
                     [[4, 10]]),
                _rec("aten::softmax", ["aten::softmax", "aten::_softmax"], "", "logit_computation", 2e-3,
                     [[4, 10]])]
    parts = [_op(f"_softmax.{p}", "aten._softmax.default", "", "logit_computation", [[4, 10]], part=p)
             for p in ("max", "exp_sum", "divide")]
    parts += [_op(f"_softmax_1.{p}", "aten._softmax.default", "", "logit_computation", [[4, 10]], part=p)
              for p in ("max", "exp_sum", "divide")]
    modelled = [{"name": o.name, "op_class": "logit_computation", "latency_s": t}
                for o, t in zip(parts, (1e-6, 2e-6, 3e-6, 10e-6, 20e-6, 30e-6))]
    rows = join_ops(measured, parts, modelled_ops(modelled))
    assert rows[0].modelled_ops == ["_softmax.max", "_softmax.exp_sum", "_softmax.divide"]
    assert rows[1].modelled_ops == ["_softmax_1.max", "_softmax_1.exp_sum", "_softmax_1.divide"]
    assert rows[0].modelled_s == pytest.approx(6e-6) and rows[1].modelled_s == pytest.approx(60e-6)
    assert rows[0].modelled_share_pct == pytest.approx(100 * 6 / 66)
    assert rows[0].match == "target+shape"


def test_operator_join_composite_call_absorbs_the_exported_block():
    # eager nn.MultiheadAttention in inference: one aten::_native_multi_head_attention call; the exporter sees
    # permute, in-projection linear, view, attention (qk, softmax parts, av), out-projection linear
    attn = "encoder.layers.encoder_layer_0.self_attention"
    mha = OpRecord(name="aten::_native_multi_head_attention", work="aten::mm",
                   chain=["aten::_native_multi_head_attention", "aten::t", "aten::mm", "aten::view",
                          "aten::permute", "aten::bmm", "aten::_softmax", "aten::addmm"],
                   module=attn, input_shapes=[[17, 1, 768]], op_class="GEMM", time_s=9e-3,
                   class_time_s={"GEMM": 8e-3, "logit_computation": 1e-3},
                   spine=["aten::_native_multi_head_attention", "aten::mm"])
    measured = [_rec("aten::layer_norm", ["aten::layer_norm", "aten::native_layer_norm"],
                     "encoder.layers.encoder_layer_0.ln_1", "normalization", 1e-3),
                mha,
                _rec("aten::add", ["aten::add"], "encoder.layers.encoder_layer_0", "arithmetic", 0.5e-3)]
    exported = [_op("native_layer_norm", "aten.native_layer_norm.default", "encoder.layers.encoder_layer_0.ln_1",
                    "normalization"),
                _op("permute_1", "aten.permute.default", attn, "memory"),
                _op("linear", "aten.linear.default", attn, "GEMM"),
                _op("view_1", "aten.view.default", attn, "memory")]
    exported += [_op(f"scaled_dot_product_attention.{p}", "aten.scaled_dot_product_attention.default", attn,
                     c, part=p) for p, c in (("qk", "GEMM"), ("softmax.max", "logit_computation"),
                                             ("softmax.exp_sum", "logit_computation"),
                                             ("softmax.divide", "logit_computation"), ("av", "GEMM"))]
    exported += [_op("linear_1", "aten.linear.default", attn, "GEMM"),
                 _op("add_1", "aten.add.Tensor", "encoder.layers.encoder_layer_0", "arithmetic"),
                 _op("cat", "aten.cat.default", "", "memory")]            # nothing measured at the top
    lat = {"native_layer_norm": 1.0, "permute_1": 0.0, "linear": 3.0, "view_1": 0.0, "linear_1": 1.0,
           "add_1": 0.5, "cat": 0.5, "scaled_dot_product_attention.qk": 1.0,
           "scaled_dot_product_attention.softmax.max": 0.25, "scaled_dot_product_attention.softmax.exp_sum": 0.5,
           "scaled_dot_product_attention.softmax.divide": 0.25, "scaled_dot_product_attention.av": 1.0}
    modelled = modelled_ops([{"name": o.name, "op_class": o.op_class, "latency_s": lat[o.name] * 1e-6}
                             for o in exported])
    rows = join_ops(measured, exported, modelled)
    assert rows[0].modelled_ops == ["native_layer_norm"] and rows[0].match == "module+target"
    assert rows[1].match == "module+class+composite"
    assert sorted(rows[1].modelled_ops) == sorted(o.name for o in exported[1:10])
    assert rows[1].modelled_s == pytest.approx(7e-6)      # 0 + 3 + 0 + (1 + 0.25 + 0.5 + 0.25 + 1) + 1 us
    assert rows[1].modelled_share_pct == pytest.approx(100 * 7 / 9)
    assert rows[2].modelled_ops == ["add_1"]
    s = match_summary(rows, exported)
    assert s["composite_calls"] == 1 and s["matched_calls"] == 3
    assert s["exported_ops"] == 12 and s["exported_ops_matched"] == 11   # the top-level cat has no call


def test_join_classes_sets_further_models_shares_beside():
    eager = {"GEMM": 1e-3, "normalization": 1e-3, "memory": 2e-3}          # 25 / 25 / 50 %
    fused = {"GEMM": 3e-3, "normalization": 1e-3}                          # 75 / 25 %
    rows = {r.op_class: r for r in join_classes(MEASURED, extra={"eager fp16": eager, "fused fp16": fused})}
    assert rows["GEMM"].extra_share_pct == {"eager fp16": pytest.approx(25.0), "fused fp16": pytest.approx(75.0)}
    assert rows["memory"].extra_share_pct["eager fp16"] == pytest.approx(50.0)
    assert rows["NonGEMM total"].extra_share_pct == {"eager fp16": pytest.approx(75.0),
                                                     "fused fp16": pytest.approx(25.0)}
    assert rows["GEMM"].modelled_share_pct is None                       # no a100_like side given
    with pytest.raises(InputError, match="unknown operator classes"):
        join_classes(MEASURED, extra={"eager fp16": {"bogus": 1.0}})
