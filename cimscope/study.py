"""Study: what to evaluate, validated once at the door.

A :class:`Study` is one point of the design space: the architecture preset, where CiM goes (``placement``),
which CiM array (``primitive``: a WWW macro or a parametric array, :func:`cimscope.arch.placements.primitives`),
the engine, the CiM mapping options, the mapper budget, and the methodology (per-inference weight loads, or
resident weights: the steady state of repeated inference). Every command builds one; every pass receives it.
The rules live here, once:

* the names are valid (arch preset, placement the arch has a level for, primitive, engine, rounding);
* placement ``none`` has no primitive and no CiM options (they are reset, so equal studies compare equal
  and share cache entries);
* the engine's binaries exist (``timeloop``), else EngineError says what to install.

:class:`ModelInputs` is the same door for what is exported: model names and input shape (batch, image size,
sequence length, ranges from :mod:`cimscope.validation`), checked before any export or torch import.

Per-operator results are pure functions of (Study, operator shape): :func:`result_key` is the one cache key.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Optional

from cimscope import ir
from cimscope.arch.builders import available_archs
from cimscope.arch.placements import (PLACEMENTS, ROUNDINGS, PlacedArch, catalog_key, place, primitives,
                                      valid_placements)
from cimscope.engine import ENGINES, get_engine
from cimscope.errors import InputError, UnknownNameError
from cimscope.pipeline.dispatch import DISPATCHES
from cimscope.validation import BATCH_RANGE, IMAGE_SIZE_RANGE, SEQ_LEN_RANGE, in_range
from cimscope.workloads.zoo import check_model_name, check_phase, check_sizes

#: The primitive reported with placement "none" (no CiM: it changes nothing).
DEFAULT_PRIMITIVE = "analog6T"
#: Bump when the meaning of cached per-operator results changes.
RESULT_VERSION = 5          # 2: awkward dimensions padded (cimscope.padding); 3: constraint-safe mapper (budget in evaluations)
#                             4: baseline tensor cores in the format of the GEMM's operands (pipeline.gemm.tensor_core_arch)
#                             5: Timeloop's fill rule since its PR #297 and its bandwidth-cycle arithmetic (cimscope.model)


def arch_placements(arch: str) -> tuple[str, ...]:
    """Placements ``arch`` has a level for (``none`` first)."""
    return tuple(valid_placements(placed_cached(arch, "none", None, 8, "www", catalog_key()).base))


@dataclass(frozen=True)
class Study:
    """One configuration (everything a per-operator result depends on besides the operator); validated and
    normalised at construction (see the module doc)."""

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
    resident_weights: bool = False     # steady state: static weights preloaded once (pipeline.residency)
    dispatch: str = "all"              # all: every GEMM in CiM; best: CiM or tensor cores (pipeline.dispatch)

    def __post_init__(self) -> None:
        if self.arch not in available_archs():
            raise UnknownNameError("arch", self.arch, available_archs())
        valid = arch_placements(self.arch)
        if self.placement not in valid:
            hint = f"arch {self.arch} has no level for placement {self.placement!r}" \
                if self.placement in PLACEMENTS else ""
            raise UnknownNameError("placement", self.placement, valid, hint=hint)
        if self.rounding not in ROUNDINGS:      # before placement none resets it: a typo is never ignored
            raise UnknownNameError("array rounding", self.rounding, ROUNDINGS)
        if self.dispatch not in DISPATCHES:
            raise UnknownNameError("dispatch", self.dispatch, DISPATCHES)
        if self.placement == "none":
            for name, value in (("primitive", None), ("interleave", True), ("duplicate", True),
                                ("weight_reload", True), ("rounding", "www"), ("dispatch", "all")):
                object.__setattr__(self, name, value)
        elif self.primitive not in primitives():
            raise UnknownNameError("primitive", str(self.primitive), primitives())
        if self.engine not in ENGINES:
            raise UnknownNameError("engine", self.engine, ENGINES)
        if self.mapper_budget_s is not None and self.mapper_budget_s <= 0:
            raise InputError(f"mapper budget must be > 0 s, got {self.mapper_budget_s}")
        if self.mapper_max_evaluations is not None and self.mapper_max_evaluations < 1:
            raise InputError(f"mapper evaluations must be >= 1, got {self.mapper_max_evaluations}")
        if self.engine != "builtin":
            get_engine(self.engine)    # raises EngineError (what to install) when its binaries are missing

    def normalized(self) -> "Study":
        """The study itself (normalised at construction; kept for callers of the former EvalConfig)."""
        return self

    def options(self) -> dict:
        d = asdict(self)
        for k in ("arch", "placement", "primitive", "engine"):
            d.pop(k)
        if self.dispatch == "all":
            d.pop("dispatch")          # the default's options stay what they were before the field existed
        return d

    def label(self) -> str:
        if self.placement == "none":
            return "baseline"
        return f"{self.placement}/{self.primitive}" + ("" if self.dispatch == "all" else f"+{self.dispatch}")


@dataclass(frozen=True)
class ModelInputs:
    """The models to export (none when exported workload folders are given) and their input shape; validated
    at construction, before any export: sizes are integers in their ranges (``--batch``, ``--image-size`` in
    pixels, ``--seq`` and ``--kv-len`` in tokens), each model name is known (one line listing the known models
    otherwise), ``phase`` is prefill or decode and decode is asked of decoder language models only. An
    exported workload carries its own phase: ``--phase decode``/``--kv-len`` with no model is an error, not
    ignored."""

    models: tuple[str, ...] = ()
    batch: int = 1
    image_size: int = 224
    seq: int = 128
    phase: str = "prefill"
    kv_len: Optional[int] = None

    def __post_init__(self) -> None:
        in_range(self.batch, "--batch", *BATCH_RANGE)
        in_range(self.image_size, "--image-size", *IMAGE_SIZE_RANGE, " (pixels)")
        in_range(self.seq, "--seq", *SEQ_LEN_RANGE, " (tokens)")
        check_sizes(batch=self.batch, image_size=self.image_size, seq_len=self.seq, kv_len=self.kv_len)
        if not self.models and (self.phase != "prefill" or self.kv_len is not None):
            raise InputError("--phase/--kv-len apply to models exported by name (--model); an exported workload "
                             "(--workload) keeps the phase it was exported with")
        for name in self.models:
            check_model_name(name)
            check_phase(name, self.phase, self.kv_len)


def op_bits(op: ir.Op) -> int:
    """Datapath width for an operator: its widest tensor."""
    return max(t.bits for t in op.tensors) if op.tensors else 8


def cim_bits(op: ir.Op) -> tuple[int, int]:
    """(input bits, weight bits) a GEMM applies to CiM arrays: its input and weight tensors' own widths
    (input passes and weight cells are costed separately); a missing role falls back to :func:`op_bits`."""
    i, w = op.tensor("input"), op.tensor("weight")
    return (i.bits if i else op_bits(op)), (w.bits if w else op_bits(op))


@functools.lru_cache(maxsize=256)
def placed_cached(arch: str, placement: str, primitive: Optional[str], bits: int, rounding: str,
                  catalog: str, input_bits: Optional[int] = None, weight_bits: Optional[int] = None) -> PlacedArch:
    """The one cache of placed architectures, each built once per process (``catalog``: which CiM array data
    folders were read). Everything derived from an architecture (valid placements, fingerprint, SIMT levels)
    is computed from these objects."""
    return place(arch, placement, primitive, bits=bits, rounding=rounding, input_bits=input_bits,
                 weight_bits=weight_bits)


def placed(study: Study, bits: int = 8, cim: Optional[tuple[int, int]] = None) -> PlacedArch:
    """The architecture of ``study`` at datapath width ``bits`` (shared: do not modify it); ``cim``: the CiM
    arrays' (input bits, weight bits), default ``bits`` for both."""
    bi, bw = (None, None) if (cim is None or study.placement == "none") else (int(cim[0]), int(cim[1]))
    if bi == bw == int(bits):
        bi = bw = None                 # the same arrays as the plain width: one cache entry
    return placed_cached(study.arch, study.placement, study.primitive, int(bits), study.rounding, catalog_key(),
                         bi, bw)


def fingerprint(study: Study, bits: int, cim: Optional[tuple[int, int]] = None) -> str:
    """Hash of the placed architecture (its full ERT and CiM arrays included)."""
    return placed(study, bits, cim).fingerprint


def result_key(op: ir.Op, study: Study) -> str:
    """The cache key of one operator's result under ``study``: operator shape, the study's fields, the
    placed architecture's fingerprint, and the result format version."""
    static = None if not study.resident_weights else not op.attrs.get("dynamic_weight")
    return _result_key(op.shape_key(), op_bits(op), cim_bits(op), static, study)


@functools.lru_cache(maxsize=65536)
def _result_key(shape: str, bits: int, cim: tuple[int, int], static: Optional[bool], study: Study) -> str:
    """:func:`result_key` of an operator by its shape key, widths and (resident weights) static weight flag."""
    c = asdict(study)
    c["dispatch"] = "all"              # a GEMM's records do not depend on the dispatch: shared
    if not c["resident_weights"]:
        c.pop("resident_weights")      # per-inference keys stay what they were before the flag existed
    else:
        c["static_weight"] = static
    payload = {"v": RESULT_VERSION, "shape": shape, "cfg": c, "arch": fingerprint(study, bits, cim)}
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
