"""Cost of a NonGEMM operator on BF-IMNA's CAPs (the AP algorithm of each operator family).

NonGEMM operators run on CAP rows too (one element per row, bit width = the activation width):
ReLU by one compare/write; clamps by max; max pooling by compare passes (in a row, then a row tree);
average pooling by adds and a shift (power-of-two windows) or a multiply by the reciprocal; residual adds
by signed add; un-folded batch-norm by multiply + add; other nonlinear functions (exp, sigmoid, GELU, rsqrt
...) by a function look-up: one compare/write pass per input value, 2^bits passes; softmax and layer norm
by row reductions plus those. Reshapes/copies cost their data movement. Nothing is dropped: unknown
operators are costed as ``ops_per_element`` look-ups and marked ``generic``.

Which algorithm an operator gets is decided by :mod:`cimscope.bitfluid.operators` (taxonomy base names,
exact matches).
"""
from __future__ import annotations

import math
from typing import Optional

from cimscope.bitfluid.cost import LayerCost, clog2, prod
from cimscope.bitfluid.operators import family, is_max_pool, operator_name
from cimscope.ir import Op
from cimscope.plugins.ap import (ApPasses, ZERO_PASSES, ap_passes, passes_cycles, passes_energy_pJ, reduce_stage,
                                 reduction_stages)


def _shape_elements(op: Op, key: str) -> Optional[int]:
    shp = op.attrs.get(key)
    if isinstance(shp, (list, tuple)) and shp and all(isinstance(x, int) and x > 0 for x in shp):
        return prod(shp)
    return None


def _elements(op: Op) -> int:
    """Elements an operator produces (one CAP row each): the recorded output shape, else elem_ops /
    ops_per_element, else the product of its dimensions."""
    out = _shape_elements(op, "out_shape")
    if out:
        return out
    if op.elem_ops and op.ops_per_element:
        return max(1, int(round(op.elem_ops / op.ops_per_element)))
    return max(1, prod(op.dims.values()) if op.dims else 1)


def lut_passes(bits: int) -> ApPasses:
    """Arbitrary function of a ``bits``-bit input by look-up: one pass per input value (compare the input with
    the value, write the function's ``bits``-bit output): 2^bits compares and writes ([Fouda22] LUT method)."""
    n = 2 ** bits
    return ApPasses(n, n, n * bits, n * bits, n * bits * 2.0 ** -bits)


def _nongemm_cost(lc: LayerCost, passes: ApPasses, rows: int, arch, phase: str, bus_bits: float,
                  row_bits_written: float, out_bits_back: float) -> LayerCost:
    cfg, cell = arch.config, arch.cell
    waves = -(-rows // (cfg.n_caps * cfg.cap.rows)) if rows else 0
    lc.rows, lc.waves = rows, waves
    lc.passes_per_row[phase] = passes
    lc.cycles = waves * passes_cycles(passes, cell)
    e = {phase: passes_energy_pJ(passes, rows, cell)}
    total_bus = bus_bits + out_bits_back
    e["movement"] = (total_bus * arch.bus_pJ_per_bit + bus_bits * cell.read_fJ * 1e-3
                     + row_bits_written * cell.write_fJ * 1e-3
                     + out_bits_back * (cell.read_fJ + cell.write_fJ) * 1e-3)
    lc.energy_pJ = e
    lc.bus_bits = total_bus
    lc.time_s = {"compute": lc.cycles * cell.cycle_s, "movement": total_bus / arch.bus_bits_per_s}
    return lc


def cost_nongemm(op: Op, bits: int, arch, *, fused: bool = False) -> LayerCost:
    """Cost of a NonGEMM operator at activation width ``bits``. ``fused``: it works in place on rows that a
    preceding operator left in the CAPs (no data movement)."""
    M = int(bits)
    name = operator_name(op)
    fam = family(op)
    lc = LayerCost(op.name, op.module, op.op_class, op.kind, op.target, 0, M, M, count=op.count)
    n = _elements(op)
    io = 0 if fused else n * M                       # operand in, result out (bits on the bus)

    if op.kind == "pool" or op.op_class == "pooling":
        return _cost_pool(op, lc, M, arch)
    if op.op_class == "memory" or op.kind in ("memory", "embedding") or op.op_class == "embedding":
        moved = n * M
        passes = ZERO_PASSES
        lc.note = "data movement only (copy through the MAP<->CAP buses)"
        return _nongemm_cost(lc, passes, 0, arch, "copy", moved, 0, 0)
    if fam == "relu":
        lc.note = "ReLU: 1 compare (sign) + 1 write (zeros)" + (", fused in place" if fused else "")
        return _nongemm_cost(lc, ap_passes("relu", M), n, arch, "activation", io, 0 if fused else n * M,
                             io)
    if fam == "clamp":
        lc.note = "clamp: ReLU + max against the bound"
        return _nongemm_cost(lc, ap_passes("relu", M) + ap_passes("max", M), n, arch, "activation", io,
                             0 if fused else n * M, io)
    if op.op_class == "normalization" or op.kind == "norm":
        return _cost_norm(op, lc, M, n, arch, fused)
    if op.op_class == "logit_computation" or op.kind == "softmax" or fam == "softmax":
        reduce_len = list(op.dims.values())[-1] if op.dims else 1
        S = reduction_stages(reduce_len)
        ps = ((ap_passes("copy", M) + ap_passes("max", M)).scaled(S)           # row max
              + ap_passes("sub", M, M) + lut_passes(M)                          # x - max, exp
              + reduce_stage(M + clog2(reduce_len)).scaled(S)                  # sum
              + lut_passes(M) + ap_passes("mul", M, M))                         # reciprocal, scale
        lc.note = "softmax: max and sum by 2D-AP row reductions, exp and reciprocal by look-up"
        return _nongemm_cost(lc, ps, n, arch, "logit", io, 0 if fused else n * M, io)
    if fam == "add":
        ps = ap_passes("accumulate", M, M + 1) + ap_passes("saturate", M + 1, M).scaled(2)
        lc.note = "elementwise add: signed add + saturation; second operand from the MAPs"
        second = n * M
        return _nongemm_cost(lc, ps, n, arch, "arithmetic", io + second, n * M * (1 if fused else 2), io)
    if fam == "mul":
        ps = ap_passes("mul", M, M) + ap_passes("saturate", 2 * M, M).scaled(2)
        lc.note = "elementwise multiply + requantisation"
        return _nongemm_cost(lc, ps, n, arch, "arithmetic", io + n * M, n * M * (1 if fused else 2), io)
    if fam == "div":
        ps = lut_passes(M) + ap_passes("mul", M, M)
        lc.note = "divide: reciprocal by look-up, multiply"
        return _nongemm_cost(lc, ps, n, arch, "arithmetic", io + n * M, n * M * (1 if fused else 2), io)
    if fam == "reduce" or op.kind == "reduction":
        return _cost_reduction(op, lc, M, n, arch, fused)
    if fam == "lut" or op.op_class == "activation":
        lc.note = f"{name}: function look-up, 2^{M} passes"
        return _nongemm_cost(lc, lut_passes(M), n, arch, "activation", io, 0 if fused else n * M, io)
    if op.op_class == "qdq":
        ps = ap_passes("mul", M, M) + ap_passes("saturate", 2 * M, M).scaled(2)
        lc.note = "(de)quantise: multiply by the scale + saturation"
        return _nongemm_cost(lc, ps, n, arch, "qdq", io, 0 if fused else n * M, io)
    if fam == "identity":
        lc.note = f"{name}: identity at inference, costed as a copy through the buses"
        return _nongemm_cost(lc, ZERO_PASSES, 0, arch, "copy", n * M, 0, 0)
    # generic: ops_per_element look-ups per element (never dropped)
    k = max(1.0, float(op.ops_per_element or 1.0))
    lc.note = f"generic: {k:g} function look-up(s) per element ({op.target} has no dedicated AP mapping)"
    return _nongemm_cost(lc, lut_passes(M).scaled(k), n, arch, "generic", io, 0 if fused else n * M, io)


def _cost_norm(op: Op, lc: LayerCost, M: int, n: int, arch, fused: bool) -> LayerCost:
    """Batch norm (folded into the preceding conv, or multiply + add), or layer/group/RMS norm."""
    io = 0 if fused else n * M
    if family(op) == "batch_norm" and arch.config.fold_batchnorm and fused:
        lc.note = "batch norm folded into the preceding conv at inference (scale -> weights, shift -> bias)"
        lc.energy_pJ = {"folded": 0.0}
        lc.time_s = {"compute": 0.0, "movement": 0.0}
        return lc
    if family(op) == "batch_norm":
        ps = ap_passes("mul", M, M) + ap_passes("accumulate", 2 * M, 2 * M) + \
            ap_passes("saturate", 2 * M, M).scaled(2)
        lc.note = "batch norm (not folded): per element multiply by scale, add shift, requantise"
        return _nongemm_cost(lc, ps, n, arch, "normalization", io, 0 if fused else n * M, io)
    # layer/group/rms norm: statistics by row reductions, rsqrt by look-up, then scale and shift
    reduce_len = int(op.attrs.get("normalized_size", 0) or (list(op.dims.values())[-1] if op.dims else 1))
    W = 2 * M + clog2(reduce_len)
    ps = (reduce_stage(W).scaled(2 * reduction_stages(reduce_len)) + ap_passes("mul", M, M)
          + lut_passes(M) + ap_passes("mul", M, M) + ap_passes("accumulate", 2 * M, 2 * M))
    lc.note = "norm: mean/variance by 2D-AP row reductions, rsqrt by look-up, multiply + add"
    return _nongemm_cost(lc, ps, n, arch, "normalization", io, 0 if fused else n * M, io)


def _cost_reduction(op: Op, lc: LayerCost, M: int, n: int, arch, fused: bool) -> LayerCost:
    """mean/sum/max/min over ``reduce_size`` elements by a 2D-AP row tree."""
    io = 0 if fused else n * M
    n_in = _shape_elements(op, "in_shape") or (prod(op.dims.values()) if op.dims else n)
    red_in = max(1, int(op.attrs.get("reduce_size", 0) or n_in // max(1, n)))
    S = reduction_stages(red_in)
    ps = reduce_stage(M + clog2(red_in)).scaled(S)
    if operator_name(op) == "mean" and red_in & (red_in - 1):
        ps = ps + ap_passes("mul", M + clog2(red_in), M)
    lc.note = f"reduction of {red_in} elements by a 2D-AP row tree"
    rows = max(n, 1) * red_in if red_in > 1 else n
    return _nongemm_cost(lc, ps, rows, arch, "reduction", 0 if fused else rows * M,
                         0 if fused else rows * M, io)


def _cost_pool(op: Op, lc: LayerCost, M: int, arch) -> LayerCost:
    d = op.dims
    outputs = d.get("N", 1) * d.get("C", 1) * d.get("P", 1) * d.get("Q", 1)
    win = d.get("R", 1) * d.get("S", 1)
    if win <= 1 and op.attrs.get("kernel_size"):
        ks = op.attrs["kernel_size"]
        win = prod(ks) if isinstance(ks, (list, tuple)) else int(ks) ** 2
    is_max = is_max_pool(op)
    cols = arch.config.cap.columns
    W = M if is_max else M + clog2(win)
    fv = max(1, min(win, (cols - W - 2) // M))             # window values per row
    r = -(-win // fv)                                        # rows per output
    if is_max:
        in_row = ap_passes("max", M).scaled(fv - 1) if fv > 1 else ZERO_PASSES
        stage = ap_passes("copy", M) + ap_passes("max", M)
        lc.note = f"max pool: {fv - 1} in-row max + {reduction_stages(r)}-stage row tree, window {win}"
    else:
        in_row = ap_passes("add", M, W).scaled(fv - 1) if fv > 1 else ZERO_PASSES
        stage = reduce_stage(W)
        lc.note = f"avg pool: {fv - 1} in-row adds + {reduction_stages(r)}-stage row tree, window {win}"
    S = reduction_stages(r)
    cfg, cell = arch.config, arch.cell
    rows = outputs * r
    waves = -(-rows // (cfg.n_caps * cfg.cap.rows))
    e_c = passes_energy_pJ(in_row, rows, cell)
    cyc = passes_cycles(in_row, cell)
    for s in range(1, S + 1):
        e_c += passes_energy_pJ(stage, outputs * math.ceil(r / 2 ** (s - 1)), cell)
        cyc += passes_cycles(stage, cell)
    post = ZERO_PASSES
    if not is_max and win & (win - 1):
        post = ap_passes("mul", W, M)                        # x (1/win) in M-bit fixed point
        lc.note += "; divide by multiplying with the M-bit reciprocal"
    elif not is_max:
        lc.note += "; divide by a shift (free)"
    e_c += passes_energy_pJ(post, outputs, cell)
    cyc += passes_cycles(post, cell)
    lc.passes_per_row = {"in_row": in_row, "reduce": stage.scaled(S), "post": post}
    lc.rows, lc.waves, lc.cycles = rows, waves, waves * cyc
    in_bits = outputs * win * M                              # windows gathered (overlaps re-sent)
    out_bits = outputs * M
    lc.bus_bits = in_bits + out_bits
    lc.energy_pJ = {"pooling": e_c,
                    "movement": (in_bits + out_bits) * arch.bus_pJ_per_bit + in_bits * cell.read_fJ * 1e-3
                    + in_bits * cell.write_fJ * 1e-3 + out_bits * (cell.read_fJ + cell.write_fJ) * 1e-3}
    lc.time_s = {"compute": lc.cycles * cell.cycle_s, "movement": lc.bus_bits / arch.bus_bits_per_s}
    return lc
