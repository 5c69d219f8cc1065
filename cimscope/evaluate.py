"""End-to-end evaluation of a network on a GPU hierarchy with (or without) CiM: every operator, GEMM and
NonGEMM, with energy (pJ), latency (cycles and s), EDP (J*s), energy per level and the GEMM/NonGEMM split.

* GEMM operators (op_class GEMM: convolutions, linear layers, matmuls incl. attention QK^T/AV whose "weight"
  is an activation) run on the tensor cores of the baseline (placement ``none``: the engine's mapper picks
  the mapping, objective EDP) or, with CiM at ``rf``/``smem``/``l2``, on the CiM arrays with the
  weight-stationary WWW mapping (:func:`cimscope.cim.cim_mapping`) and the CiM latency post-processing
  (:func:`cimscope.cim.postprocess`), for every engine.
* NonGEMM operators run on the SIMT lanes in every placement (:func:`cimscope.cim.simt_cost`); they are
  never dropped. Views/reshapes that move 0 bytes cost 0 and say so; copies cost their bytes.

Operators run one after another: the network latency is the sum of the operators' latencies, each
occurrence counted (``Op.count``).

Per-operator GEMM results are pure functions of (operator shape, architecture, placement, primitive, mapping
options, engine): :func:`evaluate_gemm` computes one, and a :class:`cimscope.sweep.ResultCache` may hold
them on disk.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Optional

from cimscope import ir
from cimscope.errors import CimscopeError, UnknownNameError

#: The primitive reported with placement "none" (no CiM: it changes nothing).
DEFAULT_PRIMITIVE = "analog6T"
ENGINES = ("builtin", "timeloop")
#: Bump when the meaning of cached per-operator results changes.
RESULT_VERSION = 2          # 2: awkward dimensions padded (cimscope.padding)


@dataclass(frozen=True)
class EvalConfig:
    """One point of the design space (everything a per-operator GEMM result depends on, besides the shape)."""

    arch: str = "a100_like"
    placement: str = "none"
    primitive: Optional[str] = None
    engine: str = "builtin"
    interleave: bool = True
    duplicate: bool = True
    weight_reload: bool = True
    rounding: str = "www"
    mapper_budget_s: Optional[float] = None
    mapper_max_evaluations: Optional[int] = None
    resident_weights: bool = False     # steady state: static weights preloaded once (cimscope.resident)

    def normalized(self) -> "EvalConfig":
        """Placement "none" has no primitive and no CiM options."""
        if self.placement == "none":
            return EvalConfig(arch=self.arch, placement="none", primitive=None, engine=self.engine,
                              mapper_budget_s=self.mapper_budget_s,
                              mapper_max_evaluations=self.mapper_max_evaluations,
                              resident_weights=self.resident_weights)
        return self

    def options(self) -> dict:
        d = asdict(self)
        for k in ("arch", "placement", "primitive", "engine"):
            d.pop(k)
        return d

    def label(self) -> str:
        return "baseline" if self.placement == "none" else f"{self.placement}/{self.primitive}"


def validate(arch: str, placement: str, primitive: Optional[str], engine: str = "builtin") -> None:
    """Raise UnknownNameError (listing the valid names) for a bad arch, placement, primitive or engine."""
    from cimscope.arch.builders import available_archs, build_arch
    from cimscope.arch.placements import PLACEMENTS, PRIMITIVES, valid_placements
    if arch not in available_archs():
        raise UnknownNameError("arch", arch, available_archs())
    if placement not in PLACEMENTS:
        raise UnknownNameError("placement", placement, valid_placements(build_arch(arch)))
    if placement not in valid_placements(build_arch(arch)):
        raise UnknownNameError("placement", placement, valid_placements(build_arch(arch)),
                               hint=f"arch {arch} has no level for placement {placement!r}")
    if placement != "none" and primitive not in PRIMITIVES:
        raise UnknownNameError("primitive", str(primitive), PRIMITIVES)
    if engine not in ENGINES:
        raise UnknownNameError("engine", engine, ENGINES)
    if engine != "builtin":
        get_engine(engine)             # raises EngineError (what to install) when its binaries are missing


def op_bits(op: ir.Op) -> int:
    """Datapath width for an operator: its widest tensor."""
    return max(t.bits for t in op.tensors) if op.tensors else 8


@functools.lru_cache(maxsize=256)
def _placed(arch: str, placement: str, primitive: Optional[str], bits: int, rounding: str):
    from cimscope.arch.placements import place
    return place(arch, placement, primitive, bits=bits, rounding=rounding)


def placed_arch(cfg: EvalConfig, bits: int = 8):
    cfg = cfg.normalized()
    return _placed(cfg.arch, cfg.placement, cfg.primitive, int(bits), cfg.rounding)


@functools.lru_cache(maxsize=256)
def _fingerprint(arch: str, placement: str, primitive: Optional[str], bits: int, rounding: str) -> str:
    pa = _placed(arch, placement, primitive, bits, rounding)
    blob = json.dumps({"gemm": asdict(pa.gemm), "cim": None if pa.cim is None else pa.cim.to_dict()},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def gemm_key(op: ir.Op, cfg: EvalConfig) -> str:
    """Cache key of one GEMM result: operator shape, architecture (its full ERT included), placement,
    primitive, mapping options, engine."""
    cfg = cfg.normalized()
    bits = op_bits(op)
    c = asdict(cfg)
    if not c["resident_weights"]:
        c.pop("resident_weights")      # per-inference keys stay what they were before the flag existed
    else:
        c["static_weight"] = not op.attrs.get("dynamic_weight")
    payload = {"v": RESULT_VERSION, "shape": op.shape_key(), "cfg": c,
               "arch": _fingerprint(cfg.arch, cfg.placement, cfg.primitive, bits, cfg.rounding)}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def get_engine(name: str, **kw: Any):
    from cimscope.engine import get_engine as _get
    return _get(name, **kw)


def _map_baseline(problem: ir.Problem, arch: ir.Arch, cfg: EvalConfig) -> tuple[ir.Mapping, ir.Result]:
    """The engine's mapper on the baseline (objective EDP; the builtin mapper caches by shape)."""
    kwargs: dict[str, Any] = {"objective": "edp"}
    if cfg.mapper_budget_s is not None:
        kwargs["budget_s"] = cfg.mapper_budget_s
    if cfg.mapper_max_evaluations is not None:
        kwargs["max_evaluations"] = cfg.mapper_max_evaluations
    engine = get_engine(cfg.engine, progress=False) if cfg.engine == "builtin" else get_engine(cfg.engine)
    return engine.map(problem, arch, **kwargs)


def _bound(result: ir.Result, arch: ir.Arch) -> str:
    ideal = result.computes / max(1, arch.compute.instances)
    return "compute" if result.cycles <= ideal * 1.0001 + 1 else "bandwidth/mapping"


def _edp(r: ir.Result) -> float:
    return r.energy_pJ * r.cycles


def _best_baseline(problem: ir.Problem, arch: ir.Arch, cfg: EvalConfig, post=None
                   ) -> tuple[ir.Problem, ir.Result, int]:
    """The engine's mapper on ``problem`` and on each padded candidate of it
    (:func:`cimscope.padding.candidate_paddings`; none when no dimension is awkward); the lowest EDP (the
    mapper's objective) wins, the unpadded problem on ties. Returns (problem mapped, its result, padded
    candidates mapped). Padding is tried even when the unpadded mapping is near the latency bound: a
    divisible size also tiles the buffers better (ViT-B/16's 197 x 768 x 768 linear: 13 % less energy
    padded to 198 rows). ``post`` is applied to every candidate's result before they are compared (resident
    weights: :func:`cimscope.resident.remove_weight_traffic`)."""
    from cimscope.errors import MappingError
    from cimscope.padding import candidate_paddings
    cands = candidate_paddings(problem, arch)
    best, chosen, first_error = None, None, None
    try:
        _, best = _map_baseline(problem, arch, cfg)
        best = post(best) if post else best
        chosen = problem
    except MappingError as exc:
        if not cands:
            raise
        first_error = exc
    for padded, _note in cands:
        try:
            _, r = _map_baseline(padded, arch, cfg)
        except MappingError:
            continue
        r = post(r) if post else r
        if best is None or _edp(r) < _edp(best):
            best, chosen = r, padded
    if best is None:
        raise first_error
    return chosen, best, len(cands)


def evaluate_gemm(op: ir.Op, cfg: EvalConfig) -> dict:
    """One occurrence of GEMM ``op`` under ``cfg``: a JSON-able dict (energy_pJ, cycles,
    energy_pJ_per_level, utilization, bound, extra, note).

    Awkward dimensions are padded when that maps better (tile quantization, :mod:`cimscope.padding`): the
    padded problem's MACs and tensor elements are computed and moved like real ones, ``computes`` counts
    them, ``utilization`` counts only the real MACs, ``extra["padding"]`` and the note say what was padded."""
    from cimscope.cim import CimOptions, padded_cim_mappings, postprocess
    from cimscope.padding import padding_info, padding_note
    cfg = cfg.normalized()
    bits = op_bits(op)
    pa = placed_arch(cfg, bits)
    problem = op.to_problem()
    resident = cfg.resident_weights and not op.attrs.get("dynamic_weight") and op.tensor("weight") is not None
    if pa.cim is None and resident:
        # the weights reside in the baseline's largest single-instance on-chip level: the mapper keeps them
        # there (Timeloop keep constraint); the preload (levels above it, its fills) is removed afterwards
        from cimscope.resident import baseline_level, baseline_removal, remove_weight_traffic
        wname = _weights_name(problem)
        level = baseline_level(pa.gemm).name
        arch = _keep_arch(cfg, bits, level, wname)
        removal = baseline_removal(arch, level)
        chosen, result, tried = _best_baseline(problem, arch, cfg,
                                               post=lambda r: remove_weight_traffic(r, arch, wname, removal))
        pad = padding_info(problem, chosen)
        bound = _bound(result, arch)
        extra = {"unit": "tensor_core", "resident": {"level": level, **result.extra["resident"]}}
    elif pa.cim is None:
        chosen, result, tried = _best_baseline(problem, pa.gemm, cfg)
        pad = padding_info(problem, chosen)
        bound = _bound(result, pa.gemm)
        extra = {"unit": "tensor_core"}
    else:
        # resident weights: the arrays hold every weight of the network once, so no copies into idle arrays
        opts = CimOptions(interleave=cfg.interleave, duplicate=cfg.duplicate and not resident,
                          weight_reload=cfg.weight_reload)
        engine = get_engine(cfg.engine)
        if resident:
            from cimscope.resident import cim_removal, remove_weight_traffic
            wname = _weights_name(problem)
        # the WWW priority mapping in a few variants (cimscope.cim.VARIANTS), of the problem and of its padded
        # versions; the engine scores each and the lowest EDP after the CiM post-processing is kept (the
        # unpadded problem first, so it wins ties)
        result, pad = None, None
        cands = padded_cim_mappings(problem, pa.gemm, opts)
        for c in cands:
            raw = engine.evaluate(c.problem, pa.gemm, c.mapping)
            if resident:           # no weight traffic, no array writes: W x t_w = 0 in the post-processing
                raw = remove_weight_traffic(raw, pa.gemm, wname, cim_removal(pa.gemm))
            cand = postprocess(raw, pa.gemm, c.info)
            if result is None or _edp(cand) < _edp(result):
                result, pad = cand, c.padding
        tried = len({repr(sorted(c.problem.dims.items())) for c in cands}) - 1
        bound = "cim waves" if result.extra["cim"]["bound"] == "cim" else "bandwidth"
        extra = {"unit": "cim", "cim": result.extra["cim"]}
        if resident:
            extra["resident"] = {"level": pa.cim_level.name, **result.extra["resident"]}
    util = float(result.utilization)
    extra["padding_candidates"] = int(tried)
    if pad is not None:
        extra["padding"] = pad
        util *= pad["utilization"]             # real MACs only
    out = {
        "energy_pJ": float(result.energy_pJ),
        "cycles": float(result.cycles),
        "cycle_seconds": float(pa.gemm.cycle_seconds),
        "computes": float(result.computes),
        "utilization": util,
        "energy_pJ_per_level": {k: float(v) for k, v in result.energy_pJ_per_level.items()},
        "bound": bound,
        "engine": result.engine,
        "extra": extra,
    }
    if pad is not None:
        out["note"] = padding_note(pad)
    return out


def _weights_name(problem: ir.Problem) -> str:
    for t in problem.dataspaces:
        if t.role == "weight":
            return t.name
    raise CimscopeError(f"problem {problem.name!r} has no weight dataspace")


@functools.lru_cache(maxsize=64)
def _keep_arch_cached(arch: str, bits: int, rounding: str, level: str, weights: str) -> ir.Arch:
    from cimscope.resident import keep_weights_arch
    return keep_weights_arch(_placed(arch, "none", None, bits, rounding).gemm, level, weights)


def _keep_arch(cfg: EvalConfig, bits: int, level: str, weights: str) -> ir.Arch:
    return _keep_arch_cached(cfg.arch, int(bits), cfg.rounding, level, weights)


def _lane_op_pJ(arch: ir.Arch) -> tuple[float, str]:
    """Energy of one NonGEMM element operation on a SIMT lane: the mean of an fp32 add and an fp32 multiply
    (simt_lane plug-in at the architecture's node)."""
    from cimscope.plugins.base import estimate
    tech = float(arch.technology.replace("nm", ""))
    add = estimate("simt_lane", {"op": "add", "datatype": "fp", "bits": 32, "technology": tech})
    mul = estimate("simt_lane", {"op": "mul", "datatype": "fp", "bits": 32, "technology": tech})
    e = 0.5 * (add.actions["op"].energy_pJ + mul.actions["op"].energy_pJ)
    return e, f"mean of fp32 add and mul (simt_lane plug-in, {tech:g} nm)"


@functools.lru_cache(maxsize=64)
def _simt_setup(arch: str, placement: str, primitive: Optional[str], bits: int, rounding: str):
    from cimscope.cim import stream_levels
    pa = _placed(arch, placement, primitive, bits, rounding)
    lanes = int((pa.base.attributes.get("simt") or {}).get("lanes", 64))
    e_op, src = _lane_op_pJ(pa.base)
    return stream_levels(pa.base, pa.cim), lanes, e_op, src


def evaluate_nongemm(op: ir.Op, cfg: EvalConfig) -> dict:
    """One occurrence of NonGEMM ``op`` on the SIMT lanes (same dict layout as :func:`evaluate_gemm`)."""
    from cimscope.cim import simt_cost
    cfg = cfg.normalized()
    bits = 8          # SIMT streams bytes; the GEMM datapath width (which sets word counts) does not matter here
    levels, lanes, e_op, src = _simt_setup(cfg.arch, cfg.placement, cfg.primitive, bits, cfg.rounding)
    c = simt_cost(op, levels, lanes, e_op, src)
    pa = placed_arch(cfg, bits)
    return {"energy_pJ": c.energy_pJ, "cycles": c.cycles, "cycle_seconds": pa.base.cycle_seconds,
            "computes": float(op.elem_ops), "utilization": 0.0, "energy_pJ_per_level": c.energy_pJ_per_level,
            "bound": c.bound, "engine": "simt", "extra": {"unit": "simt" if c.cycles or c.energy_pJ else "none",
                                                         "lanes": lanes, "lane_op_pJ": e_op,
                                                         "lane_op_source": src, "stream_level": c.stream_level},
            "note": c.note}


def weight_bytes(op: ir.Op) -> float:
    from cimscope.cim import tile_words
    w = op.tensor("weight")
    if w is None:
        return 0.0
    return tile_words(w, dict(op.dims), op.coefficients) * w.bits / 8


def op_evaluation(op: ir.Op, r: dict, arch_name: str) -> ir.OpEvaluation:
    """Wrap a per-operator result dict into an :class:`ir.OpEvaluation` row."""
    from cimscope.cim import roofline_s
    wb = weight_bytes(op) if op.is_gemm else 0.0
    cycles = float(r["cycles"])
    note = r.get("note", "")
    if op.is_gemm and op.attrs.get("dynamic_weight"):
        note = (note + "; " if note else "") + "weight operand is an activation (written per inference)"
    cim = (r.get("extra") or {}).get("cim")
    if cim and cim["mapping"]["weight_tiles"] > 1:
        m = cim["mapping"]
        wbits = op.tensor("weight").bits if op.tensor("weight") else 8
        need, have = m["weight_words"] * wbits / 8, m["weight_capacity_words"] * wbits / 8
        missing = f"missing {need - have:,.0f} B" if need > have else "not in whole array tiles"
        what = "padded weights" if (r.get("extra") or {}).get("padding") else "weights"
        note = (note + "; " if note else "") + (f"{what} {need:,.0f} B > CiM weight capacity {have:,.0f} B "
                                                f"({missing}): rewritten in {m['weight_tiles']} tiles")
    return ir.OpEvaluation(
        name=op.name, target=op.target, module=op.module, op_class=op.op_class, kind=op.kind, count=op.count,
        unit=r["extra"].get("unit", ""), energy_pJ=float(r["energy_pJ"]), cycles=cycles,
        latency_s=cycles * float(r["cycle_seconds"]), macs=int(op.macs), elem_ops=int(op.elem_ops),
        weight_bytes=wb, reuse_macs_per_weight_byte=(op.macs / wb) if wb else 0.0,
        energy_pJ_per_level=dict(r["energy_pJ_per_level"]), bound=r.get("bound", ""),
        roofline_s=roofline_s(op) if (op.is_gemm and arch_name == "a100_like") else 0.0,
        note=note, extra=dict(r.get("extra") or {}))


def evaluate_op(op: ir.Op, cfg: EvalConfig, cache=None) -> ir.OpEvaluation:
    """One operator row (GEMM results go through ``cache`` when given)."""
    if op.is_gemm:
        r = None
        key = None
        if cache is not None:
            key = gemm_key(op, cfg)
            r = cache.get(key)
        if r is None:
            try:
                r = evaluate_gemm(op, cfg)
            except CimscopeError as exc:
                raise type(exc)(f"operator {op.name} ({op.module or op.target}): {exc}") from None
            if cache is not None:
                cache.put(key, r)
    else:
        r = evaluate_nongemm(op, cfg)
    return op_evaluation(op, r, cfg.arch)


def assemble(workload: ir.Workload, cfg: EvalConfig, rows: list[ir.OpEvaluation]) -> ir.NetworkResult:
    """Network totals from per-operator rows (each row's figures x its count)."""
    cfg = cfg.normalized()
    per_level: dict[str, float] = {}
    e = lat = cyc = ge = gl = ne = nl = 0.0
    for r in rows:
        k = r.count
        e += r.energy_pJ * k
        lat += r.latency_s * k
        cyc += r.cycles * k
        if r.op_class == ir.GEMM:
            ge += r.energy_pJ * k
            gl += r.latency_s * k
        else:
            ne += r.energy_pJ * k
            nl += r.latency_s * k
        for lv, v in r.energy_pJ_per_level.items():
            per_level[lv] = per_level.get(lv, 0.0) + v * k
    pa = placed_arch(cfg, max((op_bits(o) for o in workload.gemm_ops()), default=8))
    meta = {"batch": workload.batch, **{k: v for k, v in workload.meta.items() if isinstance(v, (int, float, str))}}
    if cfg.resident_weights:
        from cimscope.resident import check_capacity
        res = check_capacity(workload, cfg)
        meta.update(resident_level=res["level"], resident_weight_bytes=res["weight_bytes"],
                    resident_capacity_bytes=res["capacity_bytes"])
    return ir.NetworkResult(
        model=workload.model, arch=cfg.arch, placement=cfg.placement,
        primitive=cfg.primitive if cfg.placement != "none" else None, engine=cfg.engine, ops=rows,
        energy_pJ=e, latency_s=lat, cycles=cyc, energy_pJ_per_level=per_level, gemm_energy_pJ=ge,
        gemm_latency_s=gl, nongemm_energy_pJ=ne, nongemm_latency_s=nl, cycle_seconds=pa.base.cycle_seconds,
        options=cfg.options(), cim=None if pa.cim is None else pa.cim.to_dict(),
        meta=meta)


class _MemoryCache(dict):
    """Per-operator GEMM results of one :func:`evaluate_network` call (same interface as ResultCache)."""

    def put(self, key: str, value: dict) -> None:
        self[key] = value


def evaluate_network(workload: ir.Workload, arch_name: str = "a100_like", placement: str = "none",
                     primitive: Optional[str] = None, engine: str = "builtin", *, interleave: bool = True,
                     duplicate: bool = True, weight_reload: bool = True, rounding: str = "www",
                     mapper_budget_s: Optional[float] = None, mapper_max_evaluations: Optional[int] = None,
                     cache=None, progress: bool = False, resident_weights: bool = False) -> ir.NetworkResult:
    """Evaluate every operator of ``workload`` on ``arch_name`` with CiM ``primitive`` at ``placement``.

    ``primitive`` is ignored for placement "none". ``cache``: a :class:`cimscope.sweep.ResultCache` (or any
    object with ``get(key)``/``put(key, value)``) for per-operator GEMM results; without one, results are
    kept in memory for this call only.

    ``resident_weights`` (default False: every inference streams its weights from HBM/DRAM and writes them
    into the CiM arrays, the WWW view): the steady state of repeated inference. The network's static weights
    (not ``dynamic_weight`` operators such as attention QK^T/AV, which still stream) are preloaded once into
    the CiM arrays of the placement, or for the baseline into its largest single-instance on-chip level (L2
    on a100_like), and that load is amortised away: no HBM/DRAM weight reads, no CiM weight writes (energy
    and write latency); the baseline reads its weights from the resident level. InputError naming the
    missing bytes when they do not fit. Details and the post-processing used: :mod:`cimscope.resident`.
    """
    if placement == "none" and primitive in (None, "none"):
        primitive = None
    validate(arch_name, placement, primitive if placement != "none" else DEFAULT_PRIMITIVE, engine)
    cfg = EvalConfig(arch=arch_name, placement=placement, primitive=primitive, engine=engine,
                     interleave=interleave, duplicate=duplicate, weight_reload=weight_reload, rounding=rounding,
                     mapper_budget_s=mapper_budget_s, mapper_max_evaluations=mapper_max_evaluations,
                     resident_weights=bool(resident_weights)).normalized()
    if cfg.resident_weights:
        from cimscope.resident import check_capacity
        check_capacity(workload, cfg)           # InputError naming the missing bytes, before any work
    if cache is None:
        cache = _MemoryCache()         # equal GEMM shapes (12 identical encoder layers ...) are computed once
    ops = workload.ops
    it = ops
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(ops), desc=f"{workload.model} {cfg.label()}", unit="op", leave=False)
    rows = []
    for op in it:
        rows.append(evaluate_op(op, cfg, cache))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return assemble(workload, cfg, rows)


def gemm_op(M: int, N: int, K: int, *, bits: int = 8, name: Optional[str] = None, module: str = "") -> ir.Op:
    """A plain GEMM Z[M,N] = sum_K A[M,K] B[K,N] (B: the weights) as an operator, e.g. the WWW GEMM shapes
    (M x N x K as the WWW workload tables write them)."""
    return ir.Op(
        name=name or f"gemm_{M}x{N}x{K}", target="aten.mm.default", module=module, op_class=ir.GEMM, kind="gemm",
        dims={"M": M, "N": N, "K": K},
        tensors=[ir.Tensor("Inputs", "input", [[("M", 1)], [("K", 1)]], bits),
                 ir.Tensor("Weights", "weight", [[("K", 1)], [("N", 1)]], bits),
                 ir.Tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], bits, read_write=True)],
        macs=M * N * K, bytes_read=(M * K + K * N) * bits // 8, bytes_written=M * N * bits // 8)
