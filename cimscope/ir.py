"""Typed intermediate representation shared by every stage of cimscope.

Data flows one way::

    export -> Workload[Op] -> (Arch, Mapping) -> Result -> NetworkResult -> report

Names follow Timeloop/Accelergy usage: a *dimension* is a loop bound of an Einsum (C, K, R, S, P, Q, N, M ...),
a *dataspace* is one tensor of the Einsum (Inputs, Weights, Outputs), a *projection* maps dimensions to a
tensor's ranks, a *level* is one storage (or the compute) level of an architecture, a *fanout* is the number
of child instances below one instance of a level, an *action* is one costed operation of a component
(read, write, update, compute, leak ...) and the *ERT* is the table of energy per action.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Union

# ---------------------------------------------------------------------------------------------------------
# Workload side
# ---------------------------------------------------------------------------------------------------------

GEMM = "GEMM"
#: NonGEMM classes of NonGEMM Bench (arXiv 2404.11788); see ../shared/reference/nongemm_taxonomy.yaml.
NONGEMM_CLASSES = (
    "activation", "logit_computation", "normalization", "arithmetic", "pooling", "interpolation",
    "embedding", "memory", "roi", "other", "qdq",
)
OP_CLASSES = (GEMM,) + NONGEMM_CLASSES

#: Einsum families an operator can take; each has its own Timeloop problem shape.
OP_KINDS = (
    "conv",          # CNN layer: N, C, K (per group G), R, S, P, Q with strides/dilations as coefficients
    "gemm",          # batched matrix multiply: B, M, N, K  (linear: B=1, leading dims folded into M)
    "elementwise",   # one output element per input element(s): N-D flattened to dims
    "reduction",     # reduce over one or more dims (mean, sum, norms' statistics)
    "softmax",       # max, exp-sum, divide over the reduced dim
    "norm",          # layer/group/batch/rms normalisation
    "pool",          # pooling windows: N, C, P, Q, R, S with stride/dilation coefficients
    "memory",        # reshape/permute/cat/copy: bytes moved, no arithmetic
    "embedding",     # table gather
    "other",
)

#: A projection term is (dimension, coefficient) where coefficient is an int or the name of a problem
#: coefficient (e.g. "Wstride"); a rank is a sum of terms; a projection is a list of ranks.
ProjectionTerm = tuple[str, Union[int, str]]
Projection = list[list[ProjectionTerm]]


@dataclass
class Tensor:
    """One dataspace of an operator's Einsum."""

    name: str                      # dataspace name as written to Timeloop: "Inputs", "Weights", "Outputs", ...
    role: str                      # "input" | "weight" | "output"
    projection: Projection
    bits: int
    read_write: bool = False       # True for the output (partial sums are read-modify-written)

    def __post_init__(self) -> None:
        if self.role not in ("input", "weight", "output"):
            raise ValueError(f"tensor {self.name!r}: role must be input, weight or output, not {self.role!r}")
        if self.bits <= 0:
            raise ValueError(f"tensor {self.name!r}: bits must be positive, got {self.bits}")


@dataclass
class Op:
    """One compute node of a network, as an Einsum with its costs."""

    name: str                      # unique within the workload (graph node name)
    target: str                    # the ATen/torch target, e.g. "aten.convolution.default"
    module: str                    # module path that produced it, e.g. "layer1.0.conv1" ("" if unknown)
    op_class: str                  # GEMM or one of NONGEMM_CLASSES
    kind: str                      # one of OP_KINDS
    dims: dict[str, int]           # ordered dimension -> size
    tensors: list[Tensor]
    coefficients: dict[str, int] = field(default_factory=dict)
    macs: int = 0                  # multiply-accumulates (GEMM)
    elem_ops: int = 0              # element operations (NonGEMM): elements x ops_per_element
    ops_per_element: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)   # stride, padding, dilation, groups, reduce dims ...
    count: int = 1                 # occurrences folded into this record (1 in workload.yaml)

    def __post_init__(self) -> None:
        if self.op_class not in OP_CLASSES:
            raise ValueError(f"op {self.name!r}: class {self.op_class!r} is not one of {', '.join(OP_CLASSES)}")
        if self.kind not in OP_KINDS:
            raise ValueError(f"op {self.name!r}: kind {self.kind!r} is not one of {', '.join(OP_KINDS)}")
        for d, n in self.dims.items():
            if int(n) < 1:
                raise ValueError(f"op {self.name!r}: dimension {d} must be >= 1, got {n}")

    @property
    def is_gemm(self) -> bool:
        return self.op_class == GEMM

    def tensor(self, role: str) -> Optional[Tensor]:
        for t in self.tensors:
            if t.role == role:
                return t
        return None

    def shape_key(self) -> str:
        """Identity of the operator's problem: ops with equal keys share one Timeloop problem file."""
        payload = {
            "kind": self.kind,
            "class": self.op_class,
            "dims": self.dims,
            "coefficients": self.coefficients,
            "tensors": [(t.name, t.role, t.projection, t.bits, t.read_write) for t in self.tensors],
            "ops_per_element": self.ops_per_element,
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha1(blob).hexdigest()[:12]

    def to_problem(self) -> "Problem":
        return Problem(name=self.name, dims=dict(self.dims), coefficients=dict(self.coefficients),
                       dataspaces=list(self.tensors), kind=self.kind,
                       ops_per_compute=self.ops_per_element if not self.is_gemm else 1.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Op":
        d = dict(d)
        d["tensors"] = [
            Tensor(**{**t, "projection": [[tuple(term) for term in rank] for rank in t["projection"]]})
            for t in d["tensors"]
        ]
        return cls(**d)


@dataclass
class Problem:
    """What an engine evaluates: a Timeloop problem (shape + instance). An Op gives one via to_problem();
    a Timeloop problem YAML is read into one. Each point of the iteration space is one compute action
    (a MAC for GEMM; for NonGEMM one element operation costing ``ops_per_compute`` lane operations)."""

    name: str
    dims: dict[str, int]
    dataspaces: list[Tensor]
    coefficients: dict[str, int] = field(default_factory=dict)
    kind: str = "gemm"
    ops_per_compute: float = 1.0

    def dataspace(self, name: str) -> Tensor:
        for t in self.dataspaces:
            if t.name == name:
                return t
        raise KeyError(f"problem {self.name!r} has no dataspace {name!r}; "
                       f"dataspaces are {', '.join(t.name for t in self.dataspaces)}")


@dataclass
class Workload:
    """All operators of one network, in execution order."""

    model: str
    ops: list[Op]
    batch: int = 1
    meta: dict[str, Any] = field(default_factory=dict)   # image size / seq len, bit widths, capture method

    def gemm_ops(self) -> list[Op]:
        return [o for o in self.ops if o.is_gemm]

    def nongemm_ops(self) -> list[Op]:
        return [o for o in self.ops if not o.is_gemm]

    def total_macs(self) -> int:
        return sum(o.macs * o.count for o in self.ops)

    def to_dict(self) -> dict:
        return {"model": self.model, "batch": self.batch, "meta": self.meta,
                "ops": [o.to_dict() for o in self.ops]}

    @classmethod
    def from_dict(cls, d: dict) -> "Workload":
        return cls(model=d["model"], batch=d.get("batch", 1), meta=d.get("meta", {}),
                   ops=[Op.from_dict(o) for o in d["ops"]])


# ---------------------------------------------------------------------------------------------------------
# Architecture side (Timeloop v0.4 terms)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Level:
    """One storage level. ``instances`` is the total count in the system (Timeloop's ``name[1..N]``);
    the fanout below a level is instances(child) / instances(level)."""

    name: str
    cls: str                                   # Accelergy class: DRAM, SRAM, regfile, dummy_storage, cim ...
    instances: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    depth: Optional[int] = None                # rows; None: unbounded (DRAM)
    width: int = 8                             # bits per row
    word_bits: int = 8                         # Timeloop "datawidth"
    n_banks: int = 1
    read_bandwidth: Optional[float] = None     # words per cycle per instance; None: unlimited
    write_bandwidth: Optional[float] = None
    shared_bandwidth: Optional[float] = None
    multiple_buffering: float = 1.0
    keep: Optional[list[str]] = None           # dataspaces the arch constrains this level to keep
    bypass: Optional[list[str]] = None         # dataspaces the arch constrains this level to bypass
    action_energy_pJ: dict[str, float] = field(default_factory=dict)   # ERT row: read/write/update/leak
    area_um2: float = 0.0                      # ART row, per instance
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def block_size(self) -> int:
        """Words per row (Timeloop: width / datawidth)."""
        return max(1, self.width // max(1, self.word_bits))

    @property
    def capacity_words(self) -> Optional[int]:
        return None if self.depth is None else self.depth * self.block_size

    @property
    def is_dummy(self) -> bool:
        return self.cls == "dummy_storage"


@dataclass
class ComputeLevel:
    name: str
    cls: str = "intmac"
    instances: int = 1
    mesh_x: int = 1
    mesh_y: int = 1
    word_bits: int = 8
    action_energy_pJ: dict[str, float] = field(default_factory=dict)   # "compute" (and "leak")
    area_um2: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Arch:
    """Storage levels outermost first (DRAM ... innermost buffer), then the compute level."""

    name: str
    levels: list[Level]
    compute: ComputeLevel
    cycle_seconds: float = 1e-9
    technology: str = "45nm"
    attributes: dict[str, Any] = field(default_factory=dict)

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"no level {name!r}; levels are {', '.join(lv.name for lv in self.levels)}")

    def fanout(self, index: int) -> int:
        """Children per instance of level ``index`` (the next level, or compute below the last)."""
        child = self.levels[index + 1].instances if index + 1 < len(self.levels) else self.compute.instances
        return max(1, child // max(1, self.levels[index].instances))


# ---------------------------------------------------------------------------------------------------------
# Mapping (Timeloop v0.4 terms)
# ---------------------------------------------------------------------------------------------------------

@dataclass
class LevelMapping:
    """Directives for one storage level. Permutations are written as Timeloop does: innermost loop first."""

    target: str
    temporal_factors: dict[str, int] = field(default_factory=dict)
    temporal_permutation: str = ""
    spatial_factors: dict[str, int] = field(default_factory=dict)
    spatial_permutation: str = ""
    spatial_split: Optional[int] = None        # loops [0, split) of the spatial permutation go to X, rest to Y
    keep: Optional[list[str]] = None
    bypass: Optional[list[str]] = None


@dataclass
class Mapping:
    levels: list[LevelMapping]                 # outermost first, one per storage level

    def for_level(self, name: str) -> LevelMapping:
        for lm in self.levels:
            if lm.target == name:
                return lm
        raise KeyError(f"mapping has no directives for level {name!r}")


# ---------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------

@dataclass
class DataspaceAccesses:
    """Totals over all instances of a level, in words (Timeloop's 'Scalar reads/fills/updates' x instances)."""

    reads: float = 0.0
    fills: float = 0.0
    updates: float = 0.0
    tile_words: float = 0.0                    # utilized capacity per instance


@dataclass
class DataspaceStats:
    """One dataspace at one storage level, as Timeloop reports it: per-instance scalar counts (words) and the
    number of instances that hold a tile (``Utilized instances (max)``)."""

    instances: float = 0.0
    reads: float = 0.0                         # scalar reads per instance
    fills: float = 0.0
    updates: float = 0.0
    tile_words: float = 0.0                    # utilized capacity per instance


@dataclass
class LevelStats:
    """One level of an engine result (the typed form of a timeloop-model stats block): its kind
    ("buffer" or "arithmetic"), the cycles it needs, its energy, and per dataspace the counts above."""

    name: str
    kind: str = "buffer"
    cycles: float = 0.0
    energy_pJ: float = 0.0
    dataspaces: dict[str, DataspaceStats] = field(default_factory=dict)


class EdpMixin:
    """The energy-delay product of a record with ``energy_pJ`` (pJ) and ``latency_s`` (s), in J*s; its
    ``to_dict`` is the record's fields plus ``edp_Js``."""

    @property
    def edp_Js(self) -> float:
        return self.energy_pJ * 1e-12 * self.latency_s  # type: ignore[attr-defined]

    def to_dict(self) -> dict:
        d = asdict(self)  # type: ignore[call-overload]
        d["edp_Js"] = self.edp_Js
        return d


@dataclass
class Result(EdpMixin):
    """Evaluation of one operator on one architecture under one mapping."""

    energy_pJ: float
    cycles: float
    computes: float
    utilization: float
    energy_pJ_per_level: dict[str, float]
    accesses: dict[str, dict[str, DataspaceAccesses]]   # level -> dataspace -> accesses
    engine: str = "builtin"
    op_name: str = ""
    cycle_seconds: float = 1e-9
    extra: dict[str, Any] = field(default_factory=dict)  # CiM/AP post-processing terms, per-action energy ...
    #: per level (arithmetic first, then storage innermost first, as timeloop-model numbers them); filled by
    #: the builtin model and from timeloop-model's stats alike, so post-processing passes read numbers
    level_stats: dict[str, LevelStats] = field(default_factory=dict)

    @property
    def latency_s(self) -> float:
        return self.cycles * self.cycle_seconds

    @property
    def compute_cycles(self) -> float:
        """Cycles of the arithmetic level alone (before any bandwidth slowdown)."""
        return next((float(s.cycles) for s in self.level_stats.values() if s.kind == "arithmetic"), 0.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["latency_s"] = self.latency_s
        d["edp_Js"] = self.edp_Js
        return d


# ---------------------------------------------------------------------------------------------------------
# CiM hardware
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CimArray:
    """One CiM array (a macro or a parametric array) as hardware, at one technology, clock and bit width:
    built from any CiM plug-in by :func:`cimscope.arch.plugin_costs.cim_array`."""

    name: str
    Rp: int                       # rows computing in parallel (reduction)
    Cp: int                       # columns computing in parallel (output channels)
    Rh: int                       # weights held per cell group along the rows (sequential)
    Ch: int                       # weights held per cell group along the columns (sequential)
    area_x: float                 # area relative to a plain SRAM array of the same ``array_bytes``
    latency_s: float              # one MAC wave (Rp x Cp MACs)
    latency_cycles: int           # ceil(latency_s / cycle)
    mac_energy_pJ: float          # per MAC
    write_energy_pJ: float        # per weight word written
    array_bytes: int              # storage of one array (its memory-mode capacity; the plug-in says)
    read_energy_pJ: float = 0.0   # per word read in memory mode (NonGEMM); 0 for compute reads
    leak_W: float = 0.0           # per array
    word_bits: int = 8
    source: str = ""
    write_latency_s: float = 0.0  # per weight word written into one array (words of one array are serial)

    @property
    def parallel_macs(self) -> int:
        return self.Rp * self.Cp

    @property
    def weights_per_array(self) -> int:
        """Weight words one array can compute with (WWW template: Rp x Cp cells x Rh x Ch)."""
        return self.Rp * self.Cp * self.Rh * self.Ch


# ---------------------------------------------------------------------------------------------------------
# Network results (cimscope.evaluate): the boundary reports and the profiler join against
# ---------------------------------------------------------------------------------------------------------

@dataclass
class OpEvaluation(EdpMixin):
    """One operator of a network evaluation. Figures are for ONE occurrence; the network totals multiply
    them by ``count``."""

    name: str
    target: str
    module: str
    op_class: str                  # GEMM or a NonGEMM class
    kind: str
    count: int
    unit: str                      # where it ran: "tensor_core", "cim", "simt" or "none" (0-byte alias)
    energy_pJ: float
    cycles: float
    latency_s: float
    macs: int = 0
    elem_ops: int = 0
    weight_bytes: float = 0.0
    reuse_macs_per_weight_byte: float = 0.0
    energy_pJ_per_level: dict[str, float] = field(default_factory=dict)
    bound: str = ""                # what limits its latency (compute, a level's bandwidth, CiM waves ...)
    roofline_s: float = 0.0        # A100 lower bound for GEMMs (0 for NonGEMM)
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class NetworkResult(EdpMixin):
    """Whole-network evaluation: every operator (GEMM and NonGEMM) of ``model`` on ``arch`` with CiM at
    ``placement`` (``none``: the GPU baseline) built from ``primitive``. Operators run one after another, so
    latencies add; totals count every occurrence."""

    model: str
    arch: str
    placement: str
    primitive: Optional[str]
    engine: str
    ops: list[OpEvaluation]
    energy_pJ: float
    latency_s: float
    cycles: float
    energy_pJ_per_level: dict[str, float]
    gemm_energy_pJ: float
    gemm_latency_s: float
    nongemm_energy_pJ: float
    nongemm_latency_s: float
    cycle_seconds: float
    options: dict[str, Any] = field(default_factory=dict)
    cim: Optional[dict[str, Any]] = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = super().to_dict()
        for o, od in zip(self.ops, d["ops"]):
            od["edp_Js"] = o.edp_Js
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "NetworkResult":
        d = dict(d)
        d.pop("edp_Js", None)
        ops = []
        for od in d.pop("ops"):
            od = dict(od)
            od.pop("edp_Js", None)
            ops.append(OpEvaluation(**od))
        return cls(ops=ops, **d)
