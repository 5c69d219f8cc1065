"""BF-IMNA's operator-name knowledge comes from the workloads taxonomy (issue 10): base names, exact matches,
every listed name known to the taxonomy; no substring matches (leaky_relu is not relu, hardsigmoid is not
sigmoid)."""
import pytest

from cimscope.bitfluid import operators as ops
from cimscope.ir import Op
from cimscope.workloads.taxonomy import classify


def op(target, op_class="activation", kind="elementwise", **attrs):
    return Op(name="x", target=target, module="m", op_class=op_class, kind=kind, dims={"A": 4}, tensors=[],
              attrs=attrs)


@pytest.mark.parametrize("family, names", sorted(ops.FAMILIES.items()))
def test_every_name_is_known_to_the_taxonomy(family, names):
    for name in names:
        assert classify(name)[1], f"{name} ({family}) is not in workloads/data/nongemm_taxonomy.yaml"


@pytest.mark.parametrize("target, family", [
    ("aten.relu.default", "relu"), ("aten::relu_", "relu"), ("torch.nn.functional.relu", "relu"),
    ("aten.leaky_relu.default", "lut"), ("aten.hardsigmoid.default", "lut"), ("aten.sigmoid.default", "lut"),
    ("aten.hardtanh.default", "clamp"), ("aten.add.Tensor", "add"), ("aten.addcmul.default", None),
    ("aten._native_batch_norm_legit_no_training.default", "batch_norm"), ("aten._softmax.default", "softmax"),
    ("aten.max_pool2d_with_indices.default", "max_pool"), ("aten.mean.dim", "reduce"),
    ("aten.tanhshrink.default", None),
])
def test_family_is_an_exact_base_name_match(target, family):
    assert ops.family(op(target)) == family


def test_fusion_and_residency_are_exact():
    assert ops.is_unary_fusable(op("aten.relu.default"))
    assert not ops.is_unary_fusable(op("aten.leaky_relu.default"))      # the substring 'relu' fused it before
    assert not ops.is_unary_fusable(op("aten.logsigmoid.default"))
    assert ops.is_unary_fusable(op("aten._native_batch_norm_legit_no_training.default", "normalization", "norm"))
    assert ops.keeps_result_resident(op("aten.add.Tensor", "arithmetic"))
    assert ops.keeps_result_resident(op("aten.sub.Tensor", "arithmetic"))
    assert not ops.keeps_result_resident(op("aten.addcmul.default", "arithmetic"))
    assert not ops.keeps_result_resident(op("aten.add.Tensor", "memory", "memory"))


def test_max_pool_from_the_lowering_record_first():
    assert ops.is_max_pool(op("aten.adaptive_avg_pool2d.default", "pooling", "pool", pool="max"))
    assert not ops.is_max_pool(op("aten.max_pool2d.default", "pooling", "pool", pool="avg"))
    assert ops.is_max_pool(op("aten.max_pool2d.default", "pooling", "pool"))
    assert not ops.is_max_pool(op("aten.adaptive_avg_pool2d.default", "pooling", "pool"))
