"""Cost of a GEMM layer (conv, linear, matmul) on BF-IMNA's CAPs: layer -> CAP rows, passes, data movement.

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
"""
from __future__ import annotations

import math
from typing import Optional

from cimscope.bitfluid.cost import LayerCost, clog2
from cimscope.errors import MappingError
from cimscope.ir import Op
from cimscope.plugins.ap import ap_passes, passes_cycles, passes_energy_pJ, reduce_stage, reduction_stages


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
        n, k = d.get("N", 1), out_channels(op)
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
    return min(L, (columns - pair - (pair + clog2(L)) - 1) // pair)


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
                           f"{a}-bit x {w}-bit pair, its {pair}-bit product and a {pair + clog2(L)}-bit "
                           f"accumulator (needs {3 * pair + clog2(L) + 1} bits); use wider CAPs or fewer bits")
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
    Wout = pair + clog2(L)
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
    n_pix = outputs // max(1, out_channels(op))
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


def out_channels(op: Op) -> int:
    """Output channels of a conv (all groups), or output columns of a GEMM."""
    d = op.dims
    if op.kind == "conv":
        return d.get("K", d.get("M", 1)) * _groups_dim(op)
    return d.get("N", 1)


