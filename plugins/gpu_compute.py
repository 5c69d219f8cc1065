"""Compute units of the GPU baseline: ``tensor_core_mac`` (one MAC lane of a tensor core) and ``simt_lane``
(one CUDA-core lane doing NonGEMM work: add, mul, exp, compare ...).

Energies start from M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014
(45 nm, 0.9 V): int add 8 b 0.03 pJ / 32 b 0.1 pJ, int mul 8 b 0.2 pJ / 32 b 3.1 pJ, fp16 add 0.4 pJ,
fp16 mul 1.1 pJ, fp32 add 0.9 pJ, fp32 mul 3.7 pJ (:mod:`cimscope.plugins.common` holds the numbers and the
two-point fits: adders linear in bits, multipliers quadratic in bits). They are taken from 0.9 V to the
models' 45 nm reference point at the nominal 1.0 V (x1.232, Stillmaker & Baas 45 nm energy fit), so that
technology=45, voltage=0.9 reproduces Horowitz's figures.

tensor_core_mac
    E_MAC = k * (E_mul(operands) + E_add(accumulator)), with an int32 accumulator for integer MACs (as the A100
    int8/int4 tensor cores) and an fp32 accumulator for fp16/bf16/tf32 (mixed precision). k = 0.710 makes the
    int8 MAC equal WWW's 0.2625 pJ at 45 nm, 1.0 V (a100.yaml, energy_per_access_pJ.int8_mac; Horowitz gives
    0.2 + 0.1 = 0.3 pJ at 0.9 V, 0.370 pJ at 1.0 V); the same k is applied to every datatype. bf16/tf32
    multipliers: the fp16 figure scaled by the square of the mantissa width (8 or 11 bits vs fp16's 11; our
    assumption). ``datatype=tensor_core``: the format an A100 tensor core runs operands of
    max(input_bits, weight_bits) bits in (:func:`tensor_core_format`: int4 up to 4 bits, int8 up to 8, fp16 up
    to 16, tf32 above; the formats of the A100 whitepaper's dense peaks), then that format's energy.
    Latency: one MAC per lane per cycle (1 GHz at 45 nm scaled by the Stillmaker & Baas delay factor, or
    ``clock_GHz`` when given).
simt_lane
    ALU energy of one lane operation (register-file traffic is costed by the storage levels, not here):
    add/sub: adder; max/min/compare: a subtract (adder); mul: multiplier; fma: mul + add. Special functions run
    on the SFU by quadratic interpolation (S. Oberman, M. Siu, "A high-performance area-efficient multifunction
    interpolator", ARITH 2005): ex2/lg2/rcp/rsqrt = 2 FMAs each; exp = ex2 + mul, log = lg2 + mul,
    div = rcp + mul, sqrt = rsqrt + mul, tanh/sigmoid = exp + add + rcp + mul. SFU ops issue at quarter rate
    (A100/V100 SMs: 16 SFUs vs 64 FP32 lanes per SM, NVIDIA whitepapers), so their latency is 4 cycles.
Area (both): full-adder count x NanGate 45 nm FA_X1 (4.256 um^2) + accumulator flip-flops x DFF_X1
    (4.522 um^2): an integer a x b multiplier is a*b FAs, an adder b FAs, an fp multiplier m^2 + e FAs
    (mantissa m, exponent e), an fp adder 3*m + e FAs (align, add, normalise). Our estimate, 50 % accuracy.
Leakage: not modelled.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from cimscope.errors import InputError
from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register
from cimscope.plugins.common import (CLOCKED_NODE_ATTRS, horowitz_pJ, int_add_pJ, int_mul_pJ, tech,
                                     tech_source)
from cimscope.plugins.sram import DFF_AREA_UM2

FA_AREA_UM2 = 4.256          # NanGate 45 nm Open Cell Library FA_X1
WWW_INT8_MAC_PJ = 0.2625     # a100.yaml, www_tensor_core_like_sm.energy_per_access_pJ.int8_mac (45 nm)
K_TENSOR = WWW_INT8_MAC_PJ / (int_mul_pJ(8, 8) + int_add_pJ(32))

#: floating-point formats: (total bits, mantissa bits incl. hidden, exponent bits)
FP_FORMATS = {"fp16": (16, 11, 5), "bf16": (16, 8, 8), "tf32": (19, 11, 8), "fp32": (32, 24, 8)}


def fp_mul_pJ(fmt: str) -> float:
    """fp multiplier at 45 nm, 1.0 V: Horowitz fp16 1.1 pJ / fp32 3.7 pJ (0.9 V) x HOROWITZ_TO_REF; bf16/tf32
    scaled by mantissa^2 from fp16."""
    if fmt == "fp32":
        return horowitz_pJ("fp", "mul", 32)
    m = FP_FORMATS[fmt][1]
    return horowitz_pJ("fp", "mul", 16) * (m / 11) ** 2


def fp_add_pJ(fmt: str) -> float:
    """fp adder at 45 nm, 1.0 V: Horowitz fp16 0.4 pJ / fp32 0.9 pJ (0.9 V) x HOROWITZ_TO_REF; bf16/tf32 take
    the fp16 figure (our assumption)."""
    return horowitz_pJ("fp", "add", 32) if fmt == "fp32" else horowitz_pJ("fp", "add", 16)


def fp_mul_fa(fmt: str) -> int:
    _, m, e = FP_FORMATS[fmt]
    return m * m + e


def fp_add_fa(fmt: str) -> int:
    _, m, e = FP_FORMATS[fmt]
    return 3 * m + e


#: A100 dense TF32 tensor-core peak, TFLOPS (NVIDIA A100 whitepaper, 2020, Table 1: 156); the packaged
#: a100.yaml (a copy of the reference file) records int4, int8 and fp16 only.
A100_TF32_TFLOPS = 156.0


@dataclass(frozen=True)
class TensorCoreFormat:
    """One format of the A100 tensor cores: its name, the ``tensor_core_mac`` datatype and operand width that
    price its MAC, and its dense peak (ops/s: 2 per MAC)."""

    name: str                      # int4 | int8 | fp16 | tf32
    datatype: str                  # "int" or a floating-point format of FP_FORMATS
    operand_bits: int              # the width the multiplier works at (int formats)
    max_bits: int                  # widest operand this format takes
    dense_ops_per_s: float


@functools.lru_cache(maxsize=1)
def tensor_core_formats() -> tuple[TensorCoreFormat, ...]:
    """The A100 tensor-core formats, narrowest first: dense peaks from plugins/data/a100.yaml (whitepaper:
    int4 1248 TOPS, int8 624 TOPS, fp16/bf16 312 TFLOPS) and TF32 156 TFLOPS (:data:`A100_TF32_TFLOPS`)."""
    with open(Path(__file__).with_name("data") / "a100.yaml", encoding="utf-8") as f:
        a = yaml.safe_load(f)["a100_sxm4_40gb"]
    return (TensorCoreFormat("int4", "int", 4, 4, float(a["peak_dense_int4_tops"]) * 1e12),
            TensorCoreFormat("int8", "int", 8, 8, float(a["peak_dense_int8_tops"]) * 1e12),
            TensorCoreFormat("fp16", "fp16", 16, 16, float(a["peak_dense_fp16_tflops"]) * 1e12),
            TensorCoreFormat("tf32", "tf32", 32, 32, A100_TF32_TFLOPS * 1e12))


def tensor_core_format(bits: int) -> TensorCoreFormat:
    """The narrowest A100 tensor-core format that holds ``bits``-bit operands (an int4 MMA needs both operands
    at 4 bits or fewer: W4A8 runs as int8; 9-16 bits as fp16/bf16; wider as TF32)."""
    for fmt in tensor_core_formats():
        if int(bits) <= fmt.max_bits:
            return fmt
    return tensor_core_formats()[-1]


DATATYPES = ("int",) + tuple(FP_FORMATS) + ("tensor_core",)


def _cycle(a: dict, t) -> tuple[float, str]:
    if a.get("clock_GHz") is not None:
        return 1e-9 / a["clock_GHz"], f"1 cycle at clock_GHz={a['clock_GHz']:g}"
    return t.cycle_s, f"1 cycle of 1 GHz at 45 nm x delay factor {t.delay:.4g}"


@register
class TensorCoreMac(Estimator):
    component_name = "tensor_core_mac"
    aliases = ("tensor_mac",)
    percent_accuracy = 70
    description = "one tensor-core MAC lane: int (any bits) or fp16/bf16/tf32/fp32; int8 calibrated to WWW 0.2625 pJ"
    attributes = {
        "datatype": Attr("int", "operand type (tensor_core: the A100 tensor-core format for max(input_bits, "
                                "weight_bits): int4/int8/fp16/tf32)", kind=str, choices=DATATYPES),
        "input_bits": Attr(8, "integer input bits (datatype=int)", kind=int, low=1, high=32),
        "weight_bits": Attr(8, "integer weight bits (datatype=int)", kind=int, low=1, high=32),
        "accumulator_bits": Attr(None, "accumulator bits (default: 32 for int, fp32 for floating point)",
                                 kind=int, low=8, high=64),
        **CLOCKED_NODE_ATTRS,
    }

    def estimate(self) -> Estimate:
        a = self.attrs
        t = tech(a)
        dt, fmt_note = a["datatype"], ""
        bi, bw = a["input_bits"], a["weight_bits"]
        if dt == "tensor_core":
            fmt = tensor_core_format(max(bi, bw))
            dt = fmt.datatype
            fmt_note = f"A100 tensor-core format {fmt.name} for {max(bi, bw)}-bit operands: "
            if dt == "int":
                bi = bw = fmt.operand_bits
        if dt == "int":
            acc = a["accumulator_bits"] or 32
            e_mul, e_add = int_mul_pJ(bi, bw), int_add_pJ(acc)
            fa = bi * bw + acc
            what = f"int {bi}x{bw} mul {e_mul:.4g} pJ + int{acc} add {e_add:.4g} pJ (Horowitz 2014 fits)"
        else:
            acc = a["accumulator_bits"] or 32
            if acc not in (16, 32):
                raise InputError(f"tensor_core_mac: accumulator_bits={acc} for {dt}; valid: 16, 32")
            acc_fmt = "fp32" if acc == 32 else "fp16"
            e_mul, e_add = fp_mul_pJ(dt), fp_add_pJ(acc_fmt)
            fa = fp_mul_fa(dt) + fp_add_fa(acc_fmt)
            what = f"{dt} mul {e_mul:.4g} pJ + {acc_fmt} add {e_add:.4g} pJ (Horowitz 2014)"
        e = K_TENSOR * (e_mul + e_add) * t.energy
        cyc, cyc_src = _cycle(a, t)
        src = f"{fmt_note}{K_TENSOR:.4g} x ({what}); k calibrates int8 to WWW 0.2625 pJ (a100.yaml){tech_source(t)}"
        actions = {
            "mac": ActionCost(e, cyc, src + f"; latency {cyc_src}"),
            "compute": ActionCost(e, cyc, "same as mac (Timeloop's compute action)"),
            "leak": ActionCost(0.0, 0.0, "leakage not modelled"),
        }
        area = (fa * FA_AREA_UM2 + acc * DFF_AREA_UM2) * t.area
        return Estimate(self.component_name, dict(a), actions, area, 0.0, self.percent_accuracy,
                        notes={"calibration_k": K_TENSOR, "full_adders": fa,
                               "area_source": f"{fa} NanGate FA_X1 + {acc} DFF_X1{tech_source(t)}"})


# lane operations: (ALU pieces as (kind, count)), SFU?
_SFU = 2  # FMAs per SFU function evaluation (quadratic interpolation)
LANE_OPS: dict[str, tuple[tuple[tuple[str, int], ...], bool, bool]] = {
    # op: (pieces, uses SFU (quarter rate), floating point only)
    "add": ((("add", 1),), False, False),
    "sub": ((("add", 1),), False, False),
    "max": ((("add", 1),), False, False),
    "min": ((("add", 1),), False, False),
    "compare": ((("add", 1),), False, False),
    "mul": ((("mul", 1),), False, False),
    "fma": ((("mul", 1), ("add", 1)), False, False),
    "exp": ((("fma", _SFU), ("mul", 1)), True, True),
    "log": ((("fma", _SFU), ("mul", 1)), True, True),
    "div": ((("fma", _SFU), ("mul", 1)), True, True),
    "sqrt": ((("fma", _SFU), ("mul", 1)), True, True),
    "rsqrt": ((("fma", _SFU),), True, True),
    "tanh": ((("fma", 2 * _SFU), ("mul", 2), ("add", 1)), True, True),
    "sigmoid": ((("fma", 2 * _SFU), ("mul", 2), ("add", 1)), True, True),
}
SFU_ISSUE_CYCLES = 4


@register
class SimtLane(Estimator):
    component_name = "simt_lane"
    aliases = ("cuda_core", "simt_alu")
    percent_accuracy = 50
    description = "one SIMT (CUDA-core) lane operation for NonGEMM work, by op and bit width (Horowitz 2014)"
    attributes = {
        "op": Attr("add", "lane operation", kind=str, choices=tuple(LANE_OPS)),
        "datatype": Attr("fp", "int or fp", kind=str, choices=("int", "fp")),
        "bits": Attr(32, "operand bits (fp: 16 or 32)", kind=int, low=1, high=64),
        **CLOCKED_NODE_ATTRS,
    }

    def estimate(self) -> Estimate:
        a = self.attrs
        t = tech(a)
        op, dt, bits = a["op"], a["datatype"], a["bits"]
        pieces, sfu, fp_only = LANE_OPS[op]
        if fp_only and dt != "fp":
            raise InputError(f"simt_lane: op {op!r} needs datatype=fp; integer ops: "
                             + ", ".join(o for o, v in LANE_OPS.items() if not v[2]))
        if dt == "fp":
            if bits not in (16, 32):
                raise InputError(f"simt_lane: fp bits={bits}; valid: 16, 32")
            fmt = f"fp{bits}"
            unit = {"add": fp_add_pJ(fmt), "mul": fp_mul_pJ(fmt)}
            unit_fa = {"add": fp_add_fa(fmt), "mul": fp_mul_fa(fmt)}
        else:
            unit = {"add": int_add_pJ(bits), "mul": int_mul_pJ(bits)}
            unit_fa = {"add": bits, "mul": bits * bits}
        unit["fma"] = unit["add"] + unit["mul"]
        unit_fa["fma"] = unit_fa["add"] + unit_fa["mul"]
        e45 = sum(unit[k] * n for k, n in pieces)
        e = e45 * t.energy
        cyc, cyc_src = _cycle(a, t)
        lat = cyc * (SFU_ISSUE_CYCLES if sfu else 1)
        recipe = " + ".join(f"{n} {k}" for k, n in pieces)
        sfu_src = "; SFU quadratic interpolation (Oberman & Siu 2005), quarter-rate issue" if sfu else ""
        src = (f"{op} = {recipe} ({dt}{bits}; Horowitz 2014, 45 nm at 1.0 V: add {unit['add']:.4g} pJ, "
               f"mul {unit['mul']:.4g} pJ){sfu_src}{tech_source(t)}; latency {SFU_ISSUE_CYCLES if sfu else 1} x "
               f"{cyc_src}")
        actions = {
            "op": ActionCost(e, lat, src),
            "compute": ActionCost(e, lat, "compute = op: " + src),
            "leak": ActionCost(0.0, 0.0, "leakage not modelled"),
        }
        area = unit_fa["fma"] * FA_AREA_UM2 * t.area   # one lane has an FMA datapath of this width
        return Estimate(self.component_name, dict(a), actions, area, 0.0, self.percent_accuracy,
                        notes={"sfu": sfu, "energy_45nm_pJ": e45,
                               "area_source": f"FMA datapath {unit_fa['fma']} NanGate FA_X1{tech_source(t)}"})
