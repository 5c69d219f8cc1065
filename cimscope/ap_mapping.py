"""Cost of one operator on BF-IMNA's Associative Processors (layer -> CAP rows, passes, data movement).

GEMM layers (conv, linear), after BF-IMNA (Rakka et al., arXiv 2411.01417) and the AP algorithms of
:mod:`cimscope.plugins.ap`:

* **Layout.** Each output of a layer is a dot product of length ``L`` (conv: C/groups x R x S; linear: the
  input features). Its im2col row is cut into pieces of ``f`` (activation, weight) pairs; each piece sits
  in one CAP row with a product field (a+w bits), a signed accumulator of ``Wout = a + w + ceil(log2 L)``
  bits and a carry bit, so at most ``f_max = floor((columns - (a+w) - Wout - 1) / (a+w))`` pairs fit. An
  output takes ``r = ceil(L / f_max)`` rows holding ``f = ceil(L / r)`` pairs each (the rows run in
  lock-step: the fewest pairs per row for that row count); outputs needing more rows than a CAP has are
  split over several CAPs.
* **Compute per row** (all rows of all CAPs in lock-step, word-parallel): ``f`` x (multiply a x w bits, then
  accumulate the signed product into the accumulator): ``f (mul(a, w) + accumulate(a+w, Wout))`` passes.
* **Reduction across rows** (2D AP, vertical): ``ceil(log2 r)`` stages, each a vertical copy of the partner
  row's accumulator and an accumulate (:func:`cimscope.plugins.ap.reduce_stage`); stage s runs on
  ``ceil(r / 2^(s-1))`` rows per output. Split outputs move their partial sums over the bus to one CAP and
  reduce them the same way.
* **Post-processing per output row**: bias add (conv bias, or the bias of a batch-norm folded into the conv
  at inference: scale into the weights, shift into the bias) = ``accumulate(Wout, Wout)``; requantisation to
  the next layer's activation width by a power-of-two shift (a relabelling of bit columns, free) and signed
  saturation: ``2 x saturate(Wout, out_bits)`` passes.
* **Waves.** The chip holds ``n_caps x rows`` rows; a layer needing more runs in waves. Latency = waves x
  cycles per wave x AP cycle. Energy is per active row and pass, so it sums over all rows of all waves.
* **Data movement** (MAP <-> CAP over the cluster buses): a value written into many rows is sent once and
  broadcast (an AP writes the same pattern into every tagged row in one write): the im2col activations are
  shared by every output channel (of its group, for grouped/depthwise convs), the weights by every output
  pixel. Of the two orders (all channels of a pixel block per wave: activations once, weights once per wave;
  or the reverse) the cheaper is used.
  Energy = bus bits x (bus energy + MAP cell read) + row bits written x CAP cell write; outputs go back
  (CAP read + bus + MAP write). Time = bus bits / aggregate bus bandwidth.

NonGEMM operators run on CAP rows too (one element per row, bit width = the activation width):
ReLU by one compare/write; clamps by max; max pooling by compare passes (in a row, then a row tree);
average pooling by adds and a shift (power-of-two windows) or a multiply by the reciprocal; residual adds
by signed add; un-folded batch-norm by multiply + add; other nonlinear functions (exp, sigmoid, GELU, rsqrt
...) by a function look-up: one compare/write pass per input value, 2^bits passes; softmax and layer norm
by row reductions plus those. Reshapes/copies cost their data movement. Nothing is dropped: unknown
operators are costed as ``ops_per_element`` look-ups and marked ``generic``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from cimscope.errors import MappingError
from cimscope.ir import Op
from cimscope.plugins.ap import (ApPasses, ZERO_PASSES, ap_passes, passes_cycles, passes_energy_pJ,
                                 reduce_stage, reduction_stages)


@dataclass
class LayerCost:
    """Energy and latency of one operator on BF-IMNA, split by cause."""

    op_name: str
    module: str
    op_class: str
    kind: str
    target: str
    w_bits: int
    a_bits: int
    out_bits: int
    rows: float = 0.0                      # CAP row activations, all waves
    waves: int = 0
    cycles: float = 0.0                    # AP cycles of compute (all waves)
    passes_per_row: dict[str, ApPasses] = field(default_factory=dict)   # per phase
    energy_pJ: dict[str, float] = field(default_factory=dict)           # compute phases, movement, dram
    time_s: dict[str, float] = field(default_factory=dict)              # compute, movement, dram
    bus_bits: float = 0.0
    weight_bits: float = 0.0
    macs: int = 0
    note: str = ""
    count: int = 1

    @property
    def energy_total_pJ(self) -> float:
        return sum(self.energy_pJ.values())

    @property
    def compute_energy_pJ(self) -> float:
        return sum(v for k, v in self.energy_pJ.items() if k not in ("movement", "dram"))

    def latency_s(self, overlap_movement: bool = False) -> float:
        c = self.time_s.get("compute", 0.0)
        m = self.time_s.get("movement", 0.0) + self.time_s.get("dram", 0.0)
        return max(c, m) if overlap_movement else c + m

    def to_dict(self) -> dict:
        return {
            "op": self.op_name, "module": self.module, "class": self.op_class, "kind": self.kind,
            "target": self.target, "w_bits": self.w_bits, "a_bits": self.a_bits, "out_bits": self.out_bits,
            "rows": self.rows, "waves": self.waves, "cycles": self.cycles, "macs": self.macs,
            "energy_pJ": dict(self.energy_pJ), "energy_total_pJ": self.energy_total_pJ,
            "time_s": dict(self.time_s), "bus_bits": self.bus_bits, "weight_bits": self.weight_bits,
            "passes_per_row": {k: dict(p._asdict()) for k, p in self.passes_per_row.items()},
            "note": self.note, "count": self.count,
        }


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def _clog2(n: int) -> int:
    return 0 if n <= 1 else math.ceil(math.log2(n))


def _groups_dim(op: Op) -> int:
    """Groups carried as a dimension: the exporter writes grouped convs as G x (K per group), Timeloop-style.
    (Ops built without a G dimension carry total K and C, with ``attrs["groups"]`` for the im2col sharing.)"""
    return int(op.dims.get("G", 1)) if op.kind == "conv" else 1


def _weights_are_batched(op: Op) -> bool:
    """A batched matmul whose second operand has its own matrix per batch element (attention QK^T, AV):
    the Weights tensor's projection includes the batch dimension B."""
    w = op.tensor("weight")
    return w is not None and any(dim == "B" for rank in w.projection for dim, _ in rank)


def gemm_shape(op: Op) -> tuple[int, int, int]:
    """(outputs, reduction length L, weights) of a conv/linear/matmul operator."""
    d = op.dims
    if op.kind == "conv":
        n, k = d.get("N", 1), _out_channels(op)
        p, q = d.get("P", 1), d.get("Q", 1)
        p *= d.get("F", 1)                               # 3-D convs (exporter's output depth F) folded into P
        outputs = n * k * p * q
        if op.macs and op.macs % outputs == 0:
            L = op.macs // outputs
        else:
            per_group_c = d.get("C", 1) if "G" in d else d.get("C", 1) // int(op.attrs.get("groups", 1) or 1)
            L = max(1, per_group_c * d.get("R", 1) * d.get("S", 1) * d.get("T", 1))
        return outputs, L, k * L
    if op.kind == "gemm":
        m, n_ = d.get("M", 1), d.get("N", 1)
        b = d.get("B", 1)
        L = d.get("K", 1)
        outputs = b * m * n_
        if op.macs and op.macs % outputs == 0:
            L = op.macs // outputs
        return outputs, L, n_ * L * (b if _weights_are_batched(op) else 1)
    raise MappingError(f"op {op.name!r} ({op.target}): GEMM of kind {op.kind!r} has no AP mapping; "
                       f"mapped kinds are conv and gemm")


PACKINGS = ("edp", "energy", "latency", "dense")


def max_pairs_per_row(L: int, a_bits: int, w_bits: int, columns: int) -> int:
    """Most (activation, weight) pairs a CAP row holds next to its product field, accumulator and carry."""
    pair = a_bits + w_bits
    return min(L, (columns - pair - (pair + _clog2(L)) - 1) // pair)


def cost_gemm(op: Op, w_bits: int, a_bits: int, out_bits: int, arch, *, pairs_per_row: Optional[int] = None,
              packing: Optional[str] = None) -> LayerCost:
    """Cost of a conv/linear layer on the CAPs (see the module docstring for the mapping).

    ``pairs_per_row``: force f; otherwise chosen by ``packing`` (default ``arch.config.row_packing``):
    ``dense`` packs the most pairs per row (fewest rows); ``edp``/``energy``/``latency`` try every row count
    ``r = ceil(L / f)``, f = 1..f_max, and keep the one with the lowest layer EDP/energy/latency (fewer pairs
    per row means more rows in parallel and a deeper reduction tree)."""
    cfg = arch.config
    outputs, L, weights = gemm_shape(op)
    a, w = int(a_bits), int(w_bits)
    f_max = max_pairs_per_row(L, a, w, cfg.cap.columns)
    if f_max < 1:
        pair = a + w
        raise MappingError(f"layer {op.module or op.name}: a CAP row of {cfg.cap.columns} bits cannot hold one "
                           f"{a}-bit x {w}-bit pair, its {pair}-bit product and a {pair + _clog2(L)}-bit "
                           f"accumulator (needs {3 * pair + _clog2(L) + 1} bits); use wider CAPs or fewer bits")
    if pairs_per_row is not None:
        if not 1 <= int(pairs_per_row) <= f_max:
            raise MappingError(f"layer {op.module or op.name}: pairs_per_row={pairs_per_row} is outside 1..{f_max}")
        return _cost_gemm_f(op, w, a, out_bits, arch, int(pairs_per_row), outputs, L, weights)
    packing = packing or getattr(cfg, "row_packing", "edp")
    if packing not in PACKINGS:
        raise MappingError(f"unknown row packing {packing!r}; valid: {', '.join(PACKINGS)}")
    if packing == "dense":
        return _cost_gemm_f(op, w, a, out_bits, arch, f_max, outputs, L, weights)
    best, best_key = None, None
    seen_r = set()
    for f in range(f_max, 0, -1):
        r = -(-L // f)
        if r in seen_r:
            continue
        seen_r.add(r)
        lc = _cost_gemm_f(op, w, a, out_bits, arch, f, outputs, L, weights)
        t = lc.latency_s(cfg.overlap_movement)
        key = {"edp": lc.energy_total_pJ * t, "energy": lc.energy_total_pJ, "latency": t}[packing]
        if best_key is None or key < best_key * (1 - 1e-12):
            best, best_key = lc, key
    assert best is not None
    return best


def _cost_gemm_f(op: Op, w: int, a: int, out_bits: int, arch, f: int, outputs: int, L: int,
                 weights: int) -> LayerCost:
    cfg, cell = arch.config, arch.cell
    pair = a + w
    Wout = pair + _clog2(L)
    r = -(-L // f)                                     # rows per output
    f = -(-L // r)                                     # balance: same rows, fewest lock-step iterations
    cap_rows = cfg.cap.rows
    split = -(-r // cap_rows)                          # CAPs per output
    rows_part = -(-r // split)
    parts_per_cap = max(1, cap_rows // rows_part)
    slots = cfg.n_caps * parts_per_cap
    parts = outputs * split
    waves = -(-parts // slots)
    rows = parts * rows_part                           # row activations over all waves

    lc = LayerCost(op.name, op.module, op.op_class, op.kind, op.target, w, a, out_bits, macs=op.macs or outputs * L,
                   count=op.count)
    # 1. multiply-accumulate in every row
    mac = (ap_passes("mul", a, w) + ap_passes("accumulate", pair, Wout)).scaled(f)
    lc.passes_per_row["mac"] = mac
    e_mac = passes_energy_pJ(mac, rows, cell)
    cyc = passes_cycles(mac, cell)
    # 2. reduction across the rows of each output part (2D AP)
    stage = reduce_stage(Wout)
    e_red, cyc_red = 0.0, 0.0
    for s in range(1, reduction_stages(rows_part) + 1):
        e_red += passes_energy_pJ(stage, parts * math.ceil(rows_part / 2 ** (s - 1)), cell)
        cyc_red += passes_cycles(stage, cell)
    lc.passes_per_row["reduce"] = stage.scaled(reduction_stages(rows_part))
    # 3. post-processing of each output: bias add, requantisation (shift: free; signed saturation)
    post = ap_passes("accumulate", Wout, Wout)
    if Wout > out_bits:
        post = post + ap_passes("saturate", Wout, out_bits).scaled(2)
    lc.passes_per_row["post"] = post
    e_post = passes_energy_pJ(post, outputs, cell)
    cyc_post = passes_cycles(post, cell)
    cyc_wave = cyc + cyc_red + cyc_post
    compute_cycles = waves * cyc_wave
    # 4. split outputs: partial sums to one CAP over the bus, then a row tree over `split` rows
    bus_bits = 0.0
    e_split = 0.0
    if split > 1:
        moved = outputs * (split - 1) * Wout
        bus_bits += moved
        e_split += moved * arch.move_pJ_per_bit()
        waves2 = -(-outputs * split // (cfg.n_caps * cap_rows))
        for s in range(1, reduction_stages(split) + 1):
            e_red += passes_energy_pJ(stage, outputs * math.ceil(split / 2 ** (s - 1)), cell)
            compute_cycles += waves2 * passes_cycles(stage, cell)
    # 5. data movement MAP <-> CAP with broadcast writes (cheaper of the two wave orders)
    n_pix = outputs // max(1, _out_channels(op))
    groups = int(op.attrs.get("groups", 1) or 1) if op.kind == "conv" else 1
    act_once = n_pix * groups * L * a                  # im2col matrix, once (one per group: a grouped or
                                                       # depthwise conv shares it only within a group)
    wgt_once = weights * w
    if waves <= 1:
        in_bits = act_once + wgt_once
    else:
        in_bits = min(act_once + waves * wgt_once, waves * act_once + wgt_once)
    out_bus = outputs * out_bits
    bus_bits += in_bits + out_bus
    row_bits_written = rows * f * pair                 # CAP cells written (every row its own pairs)
    e_move = ((in_bits + out_bus) * arch.bus_pJ_per_bit
              + in_bits * cell.read_fJ * 1e-3               # MAP reads
              + row_bits_written * cell.write_fJ * 1e-3     # CAP writes
              + out_bus * (cell.read_fJ + cell.write_fJ) * 1e-3)  # CAP read, MAP write
    lc.rows, lc.waves, lc.cycles = rows, waves, compute_cycles
    lc.bus_bits = bus_bits
    lc.weight_bits = wgt_once
    lc.energy_pJ = {"mac": e_mac, "reduce": e_red, "post": e_post, "movement": e_move + e_split}
    lc.time_s = {"compute": compute_cycles * cell.cycle_s, "movement": bus_bits / arch.bus_bits_per_s}
    lc.note = (f"L={L} f={f} pairs/row r={r} rows/output Wout={Wout} split={split} waves={waves}")
    return lc


def _out_channels(op: Op) -> int:
    """Output channels of a conv (all groups), or output columns of a GEMM."""
    d = op.dims
    if op.kind == "conv":
        return d.get("K", d.get("M", 1)) * _groups_dim(op)
    return d.get("N", 1)


# ---------------------------------------------------------------------------------------------------------
# NonGEMM operators
# ---------------------------------------------------------------------------------------------------------

_RELU = ("relu",)
_CLAMP = ("relu6", "hardtanh", "clamp", "clip")
_LUT_FUNCS = ("gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "exp", "log", "rsqrt", "sqrt",
              "pow", "erf", "softplus", "elu", "leaky_relu", "mish", "reciprocal", "sin", "cos")
_BINARY_ADD = ("add", "sub", "rsub")
_MUL = ("mul",)
_DIV = ("div",)


def _target_name(op: Op) -> str:
    t = op.target.lower()
    for prefix in ("aten.", "torch.", "torch.nn.functional.", "f."):
        if t.startswith(prefix):
            t = t[len(prefix):]
    return t.split(".")[0].strip("_")


def _shape_elements(op: Op, key: str) -> Optional[int]:
    shp = op.attrs.get(key)
    if isinstance(shp, (list, tuple)) and shp and all(isinstance(x, int) and x > 0 for x in shp):
        return _prod(shp)
    return None


def _elements(op: Op) -> int:
    """Elements an operator produces (one CAP row each): the recorded output shape, else elem_ops /
    ops_per_element, else the product of its dimensions."""
    out = _shape_elements(op, "out_shape")
    if out:
        return out
    if op.elem_ops and op.ops_per_element:
        return max(1, int(round(op.elem_ops / op.ops_per_element)))
    return max(1, _prod(op.dims.values()) if op.dims else 1)


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
    name = _target_name(op)
    lc = LayerCost(op.name, op.module, op.op_class, op.kind, op.target, 0, M, M, count=op.count)
    n = _elements(op)
    io = 0 if fused else n * M                       # operand in, result out (bits on the bus)

    if op.kind == "pool" or "pool" in name:
        return _cost_pool(op, lc, M, arch)
    if op.op_class == "memory" or op.kind in ("memory", "embedding") or op.op_class == "embedding":
        moved = n * M
        passes = ZERO_PASSES
        lc.note = "data movement only (copy through the MAP<->CAP buses)"
        return _nongemm_cost(lc, passes, 0, arch, "copy", moved, 0, 0)
    if name in _RELU:
        lc.note = "ReLU: 1 compare (sign) + 1 write (zeros)" + (", fused in place" if fused else "")
        return _nongemm_cost(lc, ap_passes("relu", M), n, arch, "activation", io, 0 if fused else n * M,
                             io)
    if name in _CLAMP:
        lc.note = "clamp: ReLU + max against the bound"
        return _nongemm_cost(lc, ap_passes("relu", M) + ap_passes("max", M), n, arch, "activation", io,
                             0 if fused else n * M, io)
    if op.op_class == "normalization" or op.kind == "norm":
        if "batch_norm" in name and arch.config.fold_batchnorm and fused:
            lc.note = "batch norm folded into the preceding conv at inference (scale -> weights, shift -> bias)"
            lc.energy_pJ = {"folded": 0.0}
            lc.time_s = {"compute": 0.0, "movement": 0.0}
            return lc
        if "batch_norm" in name:
            ps = ap_passes("mul", M, M) + ap_passes("accumulate", 2 * M, 2 * M) + \
                ap_passes("saturate", 2 * M, M).scaled(2)
            lc.note = "batch norm (not folded): per element multiply by scale, add shift, requantise"
            return _nongemm_cost(lc, ps, n, arch, "normalization", io, 0 if fused else n * M, io)
        # layer/group/rms norm: statistics by row reductions, rsqrt by look-up, then scale and shift
        reduce_len = int(op.attrs.get("normalized_size", 0) or (list(op.dims.values())[-1] if op.dims else 1))
        W = 2 * M + _clog2(reduce_len)
        ps = (reduce_stage(W).scaled(2 * reduction_stages(reduce_len)) + ap_passes("mul", M, M)
              + lut_passes(M) + ap_passes("mul", M, M) + ap_passes("accumulate", 2 * M, 2 * M))
        lc.note = "norm: mean/variance by 2D-AP row reductions, rsqrt by look-up, multiply + add"
        return _nongemm_cost(lc, ps, n, arch, "normalization", io, 0 if fused else n * M, io)
    if op.op_class == "logit_computation" or op.kind == "softmax" or "softmax" in name:
        reduce_len = list(op.dims.values())[-1] if op.dims else 1
        S = reduction_stages(reduce_len)
        ps = ((ap_passes("copy", M) + ap_passes("max", M)).scaled(S)           # row max
              + ap_passes("sub", M, M) + lut_passes(M)                          # x - max, exp
              + reduce_stage(M + _clog2(reduce_len)).scaled(S)                  # sum
              + lut_passes(M) + ap_passes("mul", M, M))                         # reciprocal, scale
        lc.note = "softmax: max and sum by 2D-AP row reductions, exp and reciprocal by look-up"
        return _nongemm_cost(lc, ps, n, arch, "logit", io, 0 if fused else n * M, io)
    if name in _BINARY_ADD:
        ps = ap_passes("accumulate", M, M + 1) + ap_passes("saturate", M + 1, M).scaled(2)
        lc.note = "elementwise add: signed add + saturation; second operand from the MAPs"
        second = n * M
        return _nongemm_cost(lc, ps, n, arch, "arithmetic", io + second, n * M * (1 if fused else 2), io)
    if name in _MUL:
        ps = ap_passes("mul", M, M) + ap_passes("saturate", 2 * M, M).scaled(2)
        lc.note = "elementwise multiply + requantisation"
        return _nongemm_cost(lc, ps, n, arch, "arithmetic", io + n * M, n * M * (1 if fused else 2), io)
    if name in _DIV:
        ps = lut_passes(M) + ap_passes("mul", M, M)
        lc.note = "divide: reciprocal by look-up, multiply"
        return _nongemm_cost(lc, ps, n, arch, "arithmetic", io + n * M, n * M * (1 if fused else 2), io)
    if name in ("mean", "sum", "amax", "max", "min") or op.kind == "reduction":
        n_in = _shape_elements(op, "in_shape") or (_prod(op.dims.values()) if op.dims else n)
        red_in = max(1, int(op.attrs.get("reduce_size", 0) or n_in // max(1, n)))
        S = reduction_stages(red_in)
        ps = reduce_stage(M + _clog2(red_in)).scaled(S)
        if name == "mean" and red_in & (red_in - 1):
            ps = ps + ap_passes("mul", M + _clog2(red_in), M)
        lc.note = f"reduction of {red_in} elements by a 2D-AP row tree"
        rows = max(n, 1) * red_in if red_in > 1 else n
        return _nongemm_cost(lc, ps, rows, arch, "reduction", 0 if fused else rows * M,
                             0 if fused else rows * M, io)
    if name in _LUT_FUNCS or op.op_class == "activation":
        lc.note = f"{name}: function look-up, 2^{M} passes"
        return _nongemm_cost(lc, lut_passes(M), n, arch, "activation", io, 0 if fused else n * M, io)
    if op.op_class == "qdq":
        ps = ap_passes("mul", M, M) + ap_passes("saturate", 2 * M, M).scaled(2)
        lc.note = "(de)quantise: multiply by the scale + saturation"
        return _nongemm_cost(lc, ps, n, arch, "qdq", io, 0 if fused else n * M, io)
    if name in ("dropout", "identity", "alias", "detach", "clone", "contiguous", "to", "copy"):
        lc.note = f"{name}: identity at inference, costed as a copy through the buses"
        return _nongemm_cost(lc, ZERO_PASSES, 0, arch, "copy", n * M, 0, 0)
    # generic: ops_per_element look-ups per element (never dropped)
    k = max(1.0, float(op.ops_per_element or 1.0))
    lc.note = f"generic: {k:g} function look-up(s) per element ({op.target} has no dedicated AP mapping)"
    return _nongemm_cost(lc, lut_passes(M).scaled(k), n, arch, "generic", io, 0 if fused else n * M, io)


def _cost_pool(op: Op, lc: LayerCost, M: int, arch) -> LayerCost:
    d = op.dims
    name = _target_name(op)
    outputs = d.get("N", 1) * d.get("C", 1) * d.get("P", 1) * d.get("Q", 1)
    win = d.get("R", 1) * d.get("S", 1)
    if win <= 1 and op.attrs.get("kernel_size"):
        ks = op.attrs["kernel_size"]
        win = _prod(ks) if isinstance(ks, (list, tuple)) else int(ks) ** 2
    is_max = "max" in name
    cols = arch.config.cap.columns
    W = M if is_max else M + _clog2(win)
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
