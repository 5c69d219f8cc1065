"""Lowering of captured nodes to Einsum Ops, checked against dims and costs derived by hand."""
import math
import warnings

import pytest

import torch
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cimscope.workloads.capture import capture  # noqa: E402
from cimscope.workloads.lower import UnclassifiedOperatorWarning, lower_captured  # noqa: E402


def lower(module, *inputs, mode="export", wb=8, ab=8):
    cap = capture(module.eval(), tuple(inputs), mode=mode)
    return lower_captured(cap, weight_bits=wb, act_bits=ab)


def only(ops, cls=None, kind=None):
    sel = [o for o in ops if (cls is None or o.op_class == cls) and (kind is None or o.kind == kind)]
    assert len(sel) == 1, [(o.name, o.op_class, o.kind) for o in ops]
    return sel[0]


class Conv(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.conv = nn.Conv2d(**kw)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_grouped_strided_dilated_conv(mode):
    # Conv2d(8 -> 16, 3x3, stride 2, dilation 2, padding 2, groups 4) on 1x8x32x32:
    # out = floor((32 + 2*2 - 2*(3-1) - 1)/2) + 1 = 16; per group C = 8/4 = 2, K = 16/4 = 4.
    m = Conv(in_channels=8, out_channels=16, kernel_size=3, stride=2, dilation=2, padding=2, groups=4)
    ops = lower(m, torch.randn(1, 8, 32, 32), mode=mode)
    op = only(ops, "GEMM")
    assert op.kind == "conv" and op.module == "conv"
    assert op.dims == {"N": 1, "G": 4, "C": 2, "K": 4, "R": 3, "S": 3, "P": 16, "Q": 16}
    assert list(op.dims) == ["N", "G", "C", "K", "R", "S", "P", "Q"]
    assert op.coefficients == {"Wstride": 2, "Hstride": 2, "Wdilation": 2, "Hdilation": 2}
    assert op.macs == 1 * 4 * 2 * 4 * 3 * 3 * 16 * 16 == 73728
    assert op.attrs["groups"] == 4 and op.attrs["padding"] == [2, 2] and op.attrs["stride"] == [2, 2]
    inputs = op.tensor("input")
    assert inputs.name == "Inputs"
    assert inputs.projection == [[("N", 1)], [("G", 1)], [("C", 1)],
                                 [("R", "Wdilation"), ("P", "Wstride")], [("S", "Hdilation"), ("Q", "Hstride")]]
    assert op.tensor("weight").projection == [[("G", 1)], [("C", 1)], [("K", 1)], [("R", 1)], [("S", 1)]]
    assert op.tensor("output").read_write
    # bytes at 8 bits: input 8*32*32, weight 16*2*3*3, bias 16, output 16*16*16
    assert op.bytes_read == 8 * 32 * 32 + 16 * 2 * 9 + 16
    assert op.bytes_written == 16 * 16 * 16
    assert "dynamic_weight" not in op.attrs


def test_rectangular_conv_axes_follow_timeloop():
    # kernel (kh=3, kw=5), stride (sh=2, sw=1): R/P/Wstride are the width axis, S/Q/Hstride the height axis.
    m = Conv(in_channels=3, out_channels=4, kernel_size=(3, 5), stride=(2, 1))
    op = only(lower(m, torch.randn(2, 3, 11, 20)), "GEMM")
    # H: (11 - 3)//2 + 1 = 5 ; W: (20 - 5)//1 + 1 = 16
    assert op.dims == {"N": 2, "C": 3, "K": 4, "R": 5, "S": 3, "P": 16, "Q": 5}
    assert op.coefficients == {"Wstride": 1, "Hstride": 2, "Wdilation": 1, "Hdilation": 1}
    assert op.macs == 2 * 3 * 4 * 5 * 3 * 16 * 5


def test_bit_widths_set_tensor_bits_and_bytes():
    m = Conv(in_channels=4, out_channels=8, kernel_size=1, bias=False)
    op = only(lower(m, torch.randn(1, 4, 6, 6), wb=4, ab=6), "GEMM")
    assert {t.name: t.bits for t in op.tensors} == {"Inputs": 6, "Weights": 4, "Outputs": 6}
    assert op.bytes_read == math.ceil(4 * 36 * 6 / 8) + math.ceil(8 * 4 * 4 / 8)
    assert op.bytes_written == math.ceil(8 * 36 * 6 / 8)


class Lin3D(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 32)

    def forward(self, x):
        return self.fc(x)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_linear_on_3d_input_folds_leading_dims_into_m(mode):
    op = only(lower(Lin3D(), torch.randn(2, 10, 64), mode=mode), "GEMM")
    assert op.kind == "gemm" and op.dims == {"M": 20, "N": 32, "K": 64}
    assert op.macs == 20 * 32 * 64
    assert op.tensor("weight").projection == [[("K", 1)], [("N", 1)]]
    assert op.bytes_read == 20 * 64 + 32 * 64 + 32 and op.bytes_written == 20 * 32


class BatchedMatmul(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


def test_matmul_keeps_batch_and_marks_dynamic_weight():
    ops = lower(BatchedMatmul(), torch.randn(2, 3, 5, 6), torch.randn(2, 3, 6, 7))
    op = only(ops, "GEMM")
    assert op.dims == {"B": 6, "M": 5, "N": 7, "K": 6}
    assert op.macs == 6 * 5 * 7 * 6
    assert op.attrs["dynamic_weight"] is True
    assert op.tensor("weight").projection == [[("B", 1)], [("K", 1)], [("N", 1)]]


class Attn(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_sdpa_becomes_qk_softmax_av():
    q, k, v = torch.randn(2, 4, 16, 8), torch.randn(2, 4, 16, 8), torch.randn(2, 4, 16, 8)
    ops = lower(Attn(), q, k, v)
    parts = [o.attrs.get("part") for o in ops]
    assert parts == ["qk", "max", "exp_sum", "divide", "av"]
    qk, mx, es, div, av = ops
    assert qk.dims == {"B": 8, "M": 16, "N": 16, "K": 8} and qk.macs == 8 * 16 * 16 * 8
    assert av.dims == {"B": 8, "M": 16, "N": 8, "K": 16} and av.macs == 8 * 16 * 8 * 16
    assert qk.attrs["dynamic_weight"] and av.attrs["dynamic_weight"]
    assert {mx.op_class, es.op_class, div.op_class} == {"logit_computation"}
    rows, n = 8 * 16, 16
    # max: 1 compare + 1 scale multiply per score; exp-sum: sub, exp, add; divide: sub, exp, div
    assert mx.elem_ops == rows * n * 2 and es.elem_ops == rows * n * 3 and div.elem_ops == rows * n * 3
    assert mx.tensor("output").projection == [[("M", 1)]]


class Softmax(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=-1)


def test_softmax_three_passes():
    ops = lower(Softmax(), torch.randn(4, 10))
    assert [o.attrs["part"] for o in ops] == ["max", "exp_sum", "divide"]
    assert [o.elem_ops for o in ops] == [40, 120, 120]
    assert all(o.dims == {"M": 4, "N": 10} and o.kind == "softmax" for o in ops)
    # divide reads x (40 B), the row max and row sum (4 B each), writes y (40 B)
    assert ops[2].bytes_read == 48 and ops[2].bytes_written == 40


class Pool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(x)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_max_pool_window(mode):
    op = only(lower(Pool(), torch.randn(1, 4, 8, 8), mode=mode), "pooling")
    assert op.kind == "pool"
    assert op.dims == {"N": 1, "C": 4, "R": 3, "S": 3, "P": 4, "Q": 4}
    assert op.coefficients == {"Wstride": 2, "Hstride": 2, "Wdilation": 1, "Hdilation": 1}
    assert op.elem_ops == 4 * 9 * 16                          # one compare per window element
    assert op.bytes_read == 4 * 64 and op.bytes_written == 4 * 16  # indices are not written in inference


class BN(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(x)


def test_batch_norm_cost():
    op = only(lower(BN(), torch.randn(2, 3, 4, 5)), "normalization")
    assert op.kind == "norm" and op.dims == {"N": 2, "C": 3, "X": 20}
    # (x - mean)*rstd*gamma + beta = 4 per element; rsqrt(var + eps) per channel = 2 per channel
    assert op.elem_ops == 4 * 120 + 2 * 3
    assert op.bytes_read == 120 + 4 * 3 and op.bytes_written == 120
    assert [t.name for t in op.tensors] == ["Inputs", "Inputs2", "Inputs3", "Inputs4", "Inputs5", "Outputs"]


class BiasAdd(nn.Module):
    def forward(self, x, b):
        return x + b


def test_elementwise_broadcast_is_coalesced():
    ops = lower(BiasAdd(), torch.randn(2, 3, 4, 5), torch.randn(3, 1, 1))
    op = only(ops, "arithmetic")
    assert op.kind == "elementwise" and op.dims == {"A": 2, "B": 3, "C": 20}
    assert op.tensor("input").projection == [[("A", 1)], [("B", 1)], [("C", 1)]]
    assert [t.name for t in op.tensors] == ["Inputs", "Inputs2", "Outputs"]
    assert op.tensors[1].projection == [[("B", 1)]]
    assert op.elem_ops == 120 and op.bytes_read == 123 and op.bytes_written == 120


class Views(nn.Module):
    def forward(self, x, y):
        z = x.view(4, 6).permute(1, 0)
        return torch.cat([z.contiguous(), y], dim=0)


def test_views_kept_with_zero_bytes_and_copies_with_their_bytes():
    ops = lower(Views(), torch.randn(2, 12), torch.randn(3, 4))
    assert all(o.op_class == "memory" for o in ops)
    views = [o for o in ops if o.attrs.get("view")]
    assert {o.target for o in views} == {"aten.view.default", "aten.permute.default"}
    assert all(o.bytes_read == 0 and o.bytes_written == 0 for o in views)
    copies = {o.target: o for o in ops if not o.attrs.get("view")}
    assert copies["aten.clone.default"].bytes_read == 24 and copies["aten.clone.default"].bytes_written == 24
    assert copies["aten.cat.default"].bytes_read == 24 + 12 and copies["aten.cat.default"].bytes_written == 36


class Exotic(nn.Module):
    def forward(self, x):
        return torch.special.bessel_j0(x) + 1


def test_unknown_operator_is_other_warned_and_kept():
    with pytest.warns(UnclassifiedOperatorWarning) as rec:
        ops = lower(Exotic(), torch.randn(3, 5))
    others = [o for o in ops if o.op_class == "other"]
    assert [o.target for o in others] == ["aten.special_bessel_j0.default"]
    message = " ".join(str(w.message) for w in rec)
    assert "aten.special_bessel_j0.default" in message and others[0].name in message
    assert others[0].elem_ops == 15 and others[0].bytes_read == 15 and others[0].bytes_written == 15
    assert [o.op_class for o in ops] == ["other", "arithmetic"]      # order kept, nothing dropped


def test_known_models_have_no_warning_for_plain_ops():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnclassifiedOperatorWarning)
        lower(Lin3D(), torch.randn(1, 2, 64))


class AdaptiveAndTransposed(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, 3), self.up(x)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_adaptive_pool_and_transposed_conv(mode):
    ops = lower(AdaptiveAndTransposed(), torch.randn(2, 8, 8, 8), mode=mode)
    pool = only(ops, "pooling")
    # 8 -> 3: windows [0,3) [2,6) [5,8) = 3 + 4 + 3 = 10 per axis, 100 per plane; largest window 4, stride 2
    assert pool.dims == {"N": 2, "C": 8, "R": 4, "S": 4, "P": 3, "Q": 3}
    assert pool.coefficients["Hstride"] == 2 and pool.coefficients["Wstride"] == 2
    assert pool.elem_ops == 2 * 8 * 100 + 2 * 8 * 9          # one add per window element + one divide per output
    conv = only(ops, "GEMM")
    # transposed: iterate over the 8x8 input pixels; weight [Cin=8, Kout=4, 2, 2]
    assert conv.attrs["transposed"] and conv.dims == {"N": 2, "C": 8, "K": 4, "R": 2, "S": 2, "P": 8, "Q": 8}
    assert conv.macs == 2 * 8 * 4 * 2 * 2 * 8 * 8
    assert conv.tensor("output").projection[-1] == [("R", "Wdilation"), ("P", "Wstride")]
    assert conv.bytes_written == 2 * 4 * 16 * 16


class BroadcastMatmul(nn.Module):
    def forward(self, a, b, c, d):
        return torch.matmul(a, b), torch.matmul(c, d)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_matmul_batch_dims_broadcast_both_ways(mode):
    # [2,1,5,6] @ [1,3,6,7]: batch dims (2,1) x (1,3) broadcast to (2,3) = 6 products of 5x6 @ 6x7:
    # 6*5*7*6 = 1260 MACs. [4,5,6] @ [2,1,6,7]: batch (4) x (2,1) -> (2,4) = 8: 8*5*7*6 = 1680 MACs.
    ops = lower(BroadcastMatmul(), torch.randn(2, 1, 5, 6), torch.randn(1, 3, 6, 7), torch.randn(4, 5, 6),
                torch.randn(2, 1, 6, 7), mode=mode)
    gemms = [o for o in ops if o.op_class == "GEMM"]
    assert [o.dims for o in gemms] == [{"B": 6, "M": 5, "N": 7, "K": 6}, {"B": 8, "M": 5, "N": 7, "K": 6}]
    assert [o.macs for o in gemms] == [1260, 1680]
    for o in gemms:                       # both operands carry a batch: both are read per batch entry
        assert o.tensor("input").projection[0] == [("B", 1)] and o.tensor("weight").projection[0] == [("B", 1)]


class FunctionalConvs(nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = nn.Parameter(torch.randn(6, 1, 3, 3))          # depthwise: groups 6
        self.up = nn.Parameter(torch.randn(6, 2, 3, 3))          # transposed: [Cin 6, Kout/G 2], groups 3

    def forward(self, x):
        y = F.conv2d(x, self.dw, None, 1, 1, 1, 6)               # every argument positional
        return F.conv_transpose2d(y, self.up, None, 2, 1, 1, 3, 2)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_functional_convs_with_positional_groups_and_dilation(mode):
    dw, up = [o for o in lower(FunctionalConvs(), torch.randn(1, 6, 7, 7), mode=mode) if o.op_class == "GEMM"]
    # depthwise 3x3, padding 1 on 7x7: G = 6 groups of C = 1 -> K = 1, output 7x7
    assert not dw.attrs["transposed"] and dw.attrs["groups"] == 6
    assert dw.dims == {"N": 1, "G": 6, "C": 1, "K": 1, "R": 3, "S": 3, "P": 7, "Q": 7}
    assert dw.macs == 6 * 9 * 49 == 2646
    assert dw.tensor("input").projection[-1] == [("S", "Hdilation"), ("Q", "Hstride")]
    # transposed, stride 2, padding 1, output_padding 1, groups 3, dilation 2, over the 7x7 input pixels:
    # per group C = 6/3 = 2 inputs, K = 2 outputs; out = (7-1)*2 - 2*1 + 2*(3-1) + 1 + 1 = 16
    assert up.attrs["transposed"] and up.attrs["groups"] == 3 and up.attrs["output_padding"] == [1, 1]
    assert up.dims == {"N": 1, "G": 3, "C": 2, "K": 2, "R": 3, "S": 3, "P": 7, "Q": 7}
    assert up.coefficients == {"Wstride": 2, "Hstride": 2, "Wdilation": 2, "Hdilation": 2}
    assert up.macs == 3 * 2 * 2 * 9 * 49 == 5292
    assert up.attrs["out_shape"] == [1, 6, 16, 16] and up.bytes_written == 6 * 16 * 16


class FunctionalNorms(nn.Module):
    def __init__(self):
        super().__init__()
        self.w, self.b = nn.Parameter(torch.ones(4)), nn.Parameter(torch.zeros(4))
        self.register_buffer("rm", torch.zeros(4))
        self.register_buffer("rv", torch.ones(4))

    def forward(self, x):
        return F.group_norm(x, 2, self.w, self.b), F.batch_norm(x, self.rm, self.rv, weight=self.w, bias=self.b)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_functional_group_norm_and_batch_norm_keyword_params(mode):
    gn, bn = [o for o in lower(FunctionalNorms(), torch.randn(1, 4, 8, 8), mode=mode)
              if o.op_class == "normalization"]
    # group norm, 2 groups of 2 channels x 64 pixels: 8 ops per element + 4 per group (N*G = 2 groups)
    assert gn.dims == {"N": 1, "G": 2, "C": 2, "X": 64}
    assert gn.elem_ops == 256 * 8 + 2 * 4 == 2056
    assert gn.bytes_read == 256 + 4 + 4 and gn.bytes_written == 256          # x, gamma, beta at 8 bits
    # batch norm with gamma/beta given by keyword: x + running mean, var + gamma, beta = 256 + 4 * 4 B
    assert bn.dims == {"N": 1, "C": 4, "X": 64}
    assert bn.elem_ops == 256 * 4 + 4 * 2 and bn.bytes_read == 256 + 16


class CatTwice(nn.Module):
    def forward(self, x):
        return torch.cat([x, x], dim=1)


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_cat_reads_a_repeated_operand_once_per_occurrence(mode):
    op = only(lower(CatTwice(), torch.randn(2, 3, 4), mode=mode), "memory")
    assert op.bytes_read == 2 * 24 and op.bytes_written == 48              # x copied into both halves


class MaxIndices(nn.Module):
    def forward(self, x):
        return x.max(dim=1).indices


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_result_field_of_a_multi_result_op(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnclassifiedOperatorWarning)      # no 'other' getattr node
        ops = lower(MaxIndices(), torch.randn(2, 3, 4, 5), mode=mode)
    op = only(ops, "arithmetic")
    assert op.kind == "reduction" and op.elem_ops == 120 and op.bytes_read == 120
    assert op.bytes_written == 2 * 4 * 5 * 8                               # the int64 indices it returns


def test_operand_without_shape_info_is_kept_in_generic_form():
    from cimscope.workloads.capture import NodeRecord, TArg
    from cimscope.workloads.lower import Lowerer

    w = TArg((4, 3, 3, 3), "float32", True, 32, "param", "w")
    out = TArg((1, 4, 6, 6), "float32", True, 32, "act", "conv")
    rec = NodeRecord("conv", "aten.convolution.default", "c", "", (None, w, None, [1, 1], [0, 0], [1, 1], False,
                                                                     [0, 0], 1), {}, [out])
    (op,) = Lowerer().lower(rec)                    # the input's shape is unknown: no Einsum, no traceback
    assert op.op_class == "other" and "AttributeError" in op.attrs["note"]
    assert op.bytes_read == 4 * 27 and op.bytes_written == 144 and op.elem_ops == 144


class Interpolate(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear"), F.interpolate(x, size=(3, 3), mode="area")


@pytest.mark.parametrize("mode", ["export", "fx"])
def test_interpolate_mode_sets_the_cost(mode):
    up, area = lower(Interpolate(), torch.randn(1, 2, 4, 4), mode=mode)
    # bilinear 4x4 -> 8x8 on 2 channels: 128 outputs x 3 lerps (3 ops each) = 1152
    assert up.target == "aten.upsample_bilinear2d.vec" and up.elem_ops == 128 * 9
    # area 4 -> 3 is adaptive average pooling: windows [0,2) [1,3) [2,4) = 6 per axis, 36 per plane;
    # 2 planes x 36 window elements + 2 x 9 divides = 90
    assert area.op_class == "pooling" and area.elem_ops == 2 * 36 + 2 * 9
