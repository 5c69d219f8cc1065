"""Taxonomy rules: base names of every spelling, NonGEMM Bench's operator classes (its artifact's lists), and
composite modules kept as the class owner of their primitives."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cimscope.workloads.capture import capture  # noqa: E402
from cimscope.workloads.lower import lower_captured  # noqa: E402
from cimscope.workloads.taxonomy import base_name, classify, composite_class, composite_owner  # noqa: E402


@pytest.mark.parametrize("spelling,name", [
    ("aten::max", "max"), ("aten::min", "min"), ("aten::t", "t"), ("aten.t.default", "t"),
    ("aten.max.dim", "max"), ("aten.max.default", "max"), ("aten::__and__", "__and__"),
    ("aten::__or__", "__or__"), ("operator.__iadd__", "add"), ("<built-in function iand>", "__and__"),
    ("<built-in function truediv>", "div"), ("torchvision.roi_align.default", "roi_align"),
    ("torchvision::nms", "nms"), ("transformers.grouped_mm_fallback.default", "grouped_mm_fallback"),
    ("aten.add.Tensor", "add"), ("aten::relu_", "relu"), ("aten.div.Tensor_mode", "div"),
    ("aten._softmax.default", "_softmax"), ("torch.nn.modules.conv.Conv2d", "conv2d"),
    ("transformers.activations.gelu_new", "gelu_new"),
])
def test_base_name(spelling, name):
    assert base_name(spelling) == name


@pytest.mark.parametrize("spelling,cls", [
    # NonGEMM Bench artifact (torch_flow/gen_figure_data.py): arith, mem, other, roi lists
    ("aten::max", "arithmetic"), ("aten::min", "arithmetic"), ("aten::__and__", "arithmetic"),
    ("aten::__or__", "arithmetic"), ("aten::is_nonzero", "arithmetic"), ("aten::index_add_", "arithmetic"),
    ("aten::exponential_", "arithmetic"), ("aten::cumsum", "arithmetic"), ("aten::argmax", "arithmetic"),
    ("aten::all", "arithmetic"), ("aten::bitwise_and", "arithmetic"), ("aten::floor", "arithmetic"),
    ("aten::t", "memory"), ("aten::one_hot", "memory"), ("aten::_unique2", "memory"),
    ("aten::argwhere", "memory"), ("aten::any", "memory"), ("aten::masked_fill_", "memory"),
    ("aten::split", "memory"), ("aten::roll", "memory"), ("aten::index_put_", "memory"),
    ("aten::scatter", "memory"), ("aten::resize_", "memory"), ("aten::new_full", "memory"),
    ("aten::lift_fresh", "other"), ("aten::meshgrid", "other"), ("aten::topk", "other"), ("aten::sort", "other"),
    ("aten::dropout", "other"), ("torchvision::roi_align", "roi"), ("torchvision::nms", "roi"),
    ("torchvision.roi_align.default", "roi"), ("torchvision.nms.default", "roi"),
    ("aten::adaptive_avg_pool1d", "pooling"), ("aten::upsample_nearest2d", "interpolation"),
    ("transformers.grouped_mm_fallback.default", "GEMM"), ("aten._grouped_mm.default", "GEMM"),
    ("aten.histc.default", "arithmetic"), ("prims.convert_element_type.default", "memory"),
    # the reference table (part 1) wins over the artifact: where stays arithmetic
    ("aten.where.self", "arithmetic"),
])
def test_classes_follow_nongemm_bench(spelling, cls):
    assert classify(spelling) == (cls, True)


def test_composite_modules_by_class_name():
    assert composite_class("transformers.models.llama.modeling_llama.LlamaRMSNorm") == "normalization"
    assert composite_class("MixtralRMSNorm") == composite_class("MistralRMSNorm") == "normalization"
    assert composite_class("torchvision.ops.misc.FrozenBatchNorm2d") == "normalization"
    assert composite_class("DetrFrozenBatchNorm2d") == "normalization"
    assert composite_class("transformers.activations.NewGELUActivation") == "activation"
    assert composite_class("torch.nn.modules.linear.Linear") is None
    stack = [("layers.0", "Block"), ("layers.0.norm", "x.LlamaRMSNorm"), ("layers.0.norm.inner", "x.Foo")]
    assert composite_owner(stack) == ("normalization", "LlamaRMSNorm", "layers.0.norm")
    assert composite_owner([("fc", "torch.nn.Linear")]) is None


class LlamaRMSNorm(nn.Module):          # named as transformers' module: the taxonomy matches class names
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + 1e-6))


class NewGELUActivation(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * torch.pow(x, 3.0))))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.fc, self.act = LlamaRMSNorm(8), nn.Linear(8, 8), NewGELUActivation()

    def forward(self, x):
        return self.act(self.fc(self.norm(x))) + x


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_composite_owner_classes_its_primitives(mode):
    ops = lower_captured(capture(Block().eval(), (torch.randn(2, 8),), mode=mode))
    norm = [o for o in ops if o.attrs.get("owner") == "LlamaRMSNorm"]
    act = [o for o in ops if o.attrs.get("owner") == "NewGELUActivation"]
    assert {base_name(o.target) for o in norm} >= {"pow", "mean", "rsqrt", "mul", "add"}
    assert all(o.op_class == "normalization" and o.attrs["owner_module"] == "norm" for o in norm)
    assert {o.attrs["primitive_class"] for o in norm} == {"arithmetic"}
    assert {base_name(o.target) for o in act} >= {"tanh", "mul", "add", "pow"}
    assert all(o.op_class == "activation" for o in act)
    rest = [o for o in ops if "owner" not in o.attrs]
    assert [o.op_class for o in rest if o.op_class != "memory"] == ["GEMM", "arithmetic"]   # fc, residual add
