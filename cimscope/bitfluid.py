"""Bit fluidity on BF-IMNA: static and dynamic per-layer mixed precision, whole-network energy and latency.

Data flow: ``Workload`` (:func:`cimscope.workloads.export_model`) + :class:`PrecisionConfig` (per-layer weight
and activation bits) + :class:`cimscope.arch.bf_imna.BfImnaArch` -> :func:`evaluate` -> :class:`NetworkCost`
(per layer: :class:`cimscope.ap_mapping.LayerCost`).

Precision configurations (``load_configs``):

* ``int8``, ``int4`` (any ``intN``): every GEMM layer at N-bit weights and activations.
* ``hawq-v3``: the five HAWQ-V3 ResNet18 configurations (Yao et al., ICML 2021, arXiv 2011.10680; packaged
  copy of the reference file in ``cimscope/arch/data/hawq_v3_resnet18.yaml``). Layer ``sNuMcK`` is
  ``layer{N}.{M-1}.conv{K}``, ``sNuMds`` is ``layer{N}.{M-1}.downsample.0``; the first conv and the final
  FC are always 8-bit; a conv's activations use its bit width.
* a YAML file: ``{layers: {NAME: {w_bits: W, a_bits: A}, ...}}`` for one configuration, or
  ``{configs: {CFG: {layers: {...}, top1: ...}, ...}}`` for several (optionally ``default:`` bits for layers
  not listed, ``first_last_8bit: true``), or a file in the HAWQ reference format (``layers:`` list +
  ``configs: {CFG: {bits: [...]}}``). NAME is a module path (``layer1.0.conv1``) or a HAWQ name.

Dynamic precision (:func:`evaluate_dynamic`): a sequence of configurations, one per inference. The APs change
bit width by running different pass counts, so there is no reconfiguration cost: the sequence costs the sum
of its inferences.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import yaml

from cimscope.ap_mapping import LayerCost, cost_gemm, cost_nongemm
from cimscope.errors import InputError
from cimscope.ir import Op, Workload

HAWQ_NAME = "hawq-v3"
_HAWQ_RE = re.compile(r"^s(\d+)u(\d+)(?:c(\d+)|(ds))$")
_INT_RE = re.compile(r"^int(\d+)$")
BIT_RANGE = (1, 32)


@dataclass(frozen=True)
class LayerPrecision:
    w_bits: int
    a_bits: int


@dataclass
class PrecisionConfig:
    """Per-layer bit widths of one inference. ``layers``: layer name (module path or HAWQ name) -> bits;
    ``uniform``: bits of every layer not listed; ``first_last_8bit``: the first and last GEMM layers at 8
    bits whatever else says; ``meta``: published figures (top1 %, size_MB ...) and the source."""

    name: str
    layers: dict[str, LayerPrecision] = field(default_factory=dict)
    uniform: Optional[LayerPrecision] = None
    first_last_8bit: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


def _bits(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or float(v) != int(v):
        raise InputError(f"{where}: bit width {v!r} is not an integer")
    v = int(v)
    if not BIT_RANGE[0] <= v <= BIT_RANGE[1]:
        raise InputError(f"{where}: bit width {v} is out of range [{BIT_RANGE[0]}, {BIT_RANGE[1]}]")
    return v


def _layer_precision(v: Any, where: str) -> LayerPrecision:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        b = _bits(v, where)
        return LayerPrecision(b, b)
    if isinstance(v, dict):
        unknown = sorted(set(v) - {"w_bits", "a_bits", "bits"})
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: w_bits, a_bits, bits")
        if "bits" in v:
            b = _bits(v["bits"], where)
            return LayerPrecision(_bits(v.get("w_bits", b), where), _bits(v.get("a_bits", b), where))
        if "w_bits" not in v or "a_bits" not in v:
            raise InputError(f"{where}: needs both w_bits and a_bits (or bits)")
        return LayerPrecision(_bits(v["w_bits"], where), _bits(v["a_bits"], where))
    raise InputError(f"{where}: expected {{w_bits: W, a_bits: A}} or a bit width, got {v!r}")


def hawq_to_module(name: str) -> str:
    """``s2u1c2`` -> ``layer2.0.conv2``; ``s3u1ds`` -> ``layer3.0.downsample.0`` (torchvision ResNet)."""
    m = _HAWQ_RE.match(name)
    if not m:
        return name
    stage, unit, conv, ds = m.groups()
    base = f"layer{int(stage)}.{int(unit) - 1}"
    return f"{base}.downsample.0" if ds else f"{base}.conv{int(conv)}"


def _hawq_data(path: Optional[Path] = None) -> dict:
    if path is None:
        text = (resources.files("cimscope.arch") / "data" / "hawq_v3_resnet18.yaml").read_text(encoding="utf-8")
        where = "packaged hawq_v3_resnet18.yaml"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    d = yaml.safe_load(text)
    return _check_hawq_format(d, where)


def _check_hawq_format(d: Any, where: str) -> dict:
    if not isinstance(d, dict) or not isinstance(d.get("layers"), list) or not isinstance(d.get("configs"), dict):
        raise InputError(f"{where}: HAWQ format needs a 'layers' list and a 'configs' mapping")
    return d


def _configs_from_hawq(d: dict, where: str) -> list[PrecisionConfig]:
    names = [str(x) for x in d["layers"]]
    out = []
    for cname, c in d["configs"].items():
        if not isinstance(c, dict) or not isinstance(c.get("bits"), list):
            raise InputError(f"{where}: config {cname!r} needs a 'bits' list")
        if len(c["bits"]) != len(names):
            raise InputError(f"{where}: config {cname!r} has {len(c['bits'])} bit widths for {len(names)} layers")
        layers = {hawq_to_module(n): LayerPrecision(_bits(b, f"{where}: {cname}.{n}"), _bits(b, f"{where}: {cname}.{n}"))
                  for n, b in zip(names, c["bits"])}
        meta = {k: v for k, v in c.items() if k != "bits"}
        meta["source"] = "HAWQ-V3 (Yao et al., ICML 2021, arXiv 2011.10680), ResNet18 ImageNet"
        out.append(PrecisionConfig(str(cname), layers, None, True, meta))
    return out


def hawq_v3_configs() -> list[PrecisionConfig]:
    """The five HAWQ-V3 ResNet18 configurations (uniform8, latency_0.75/0.5/0.25, uniform4)."""
    return _configs_from_hawq(_hawq_data(), "hawq_v3_resnet18.yaml")


def _config_from_mapping(name: str, c: dict, where: str) -> PrecisionConfig:
    known = {"layers", "default", "first_last_8bit", "top1", "size_MB", "bops_G", "speedup", "source",
             "description"}
    unknown = sorted(set(c) - known)
    if unknown:
        raise InputError(f"{where}: config {name!r} has unknown key(s) {', '.join(unknown)}; valid keys: "
                         f"{', '.join(sorted(known))}")
    layers_raw = c.get("layers", {}) or {}
    if not isinstance(layers_raw, dict):
        raise InputError(f"{where}: config {name!r}: 'layers' must map layer names to {{w_bits, a_bits}}")
    layers = {hawq_to_module(str(k)): _layer_precision(v, f"{where}: {name}.{k}") for k, v in layers_raw.items()}
    default = _layer_precision(c["default"], f"{where}: {name}.default") if c.get("default") is not None else None
    fl = c.get("first_last_8bit", False)
    if not isinstance(fl, bool):
        raise InputError(f"{where}: config {name!r}: first_last_8bit must be true or false")
    meta = {k: c[k] for k in ("top1", "size_MB", "bops_G", "speedup", "source", "description") if k in c}
    return PrecisionConfig(name, layers, default, fl, meta)


def configs_from_file(path: str | Path) -> tuple[list[PrecisionConfig], Optional[list[str]]]:
    """Configurations (and an optional ``dynamic`` sequence of their names) from a YAML file."""
    p = Path(path)
    where = f"precision config {p.name}"
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(d, dict) or not d:
        raise InputError(f"{where}: expected a mapping with 'layers' or 'configs'")
    dynamic = d.get("dynamic")
    if dynamic is not None and (not isinstance(dynamic, list) or not all(isinstance(x, str) for x in dynamic)):
        raise InputError(f"{where}: 'dynamic' must be a list of configuration names")
    if isinstance(d.get("layers"), list):
        return _configs_from_hawq(_check_hawq_format(d, where), where), dynamic
    if isinstance(d.get("configs"), dict):
        extra = sorted(set(d) - {"configs", "dynamic", "source", "description"})
        if extra:
            raise InputError(f"{where}: unknown top-level key(s) {', '.join(extra)}; valid: configs, dynamic")
        cfgs = []
        for name, c in d["configs"].items():
            if not isinstance(c, dict):
                raise InputError(f"{where}: config {name!r} must be a mapping")
            cfgs.append(_config_from_mapping(str(name), c, where))
        return cfgs, dynamic
    if "layers" in d or "default" in d:
        return [_config_from_mapping(p.stem, {k: v for k, v in d.items() if k != "dynamic"}, where)], None
    # a plain mapping layer -> bits
    return [_config_from_mapping(p.stem, {"layers": d}, where)], None


def load_configs(spec: str) -> tuple[list[PrecisionConfig], Optional[list[str]]]:
    """Configurations named by ``spec``: comma-separated ``hawq-v3``, ``intN`` and YAML file paths."""
    out: list[PrecisionConfig] = []
    dynamic: Optional[list[str]] = None
    parts = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not parts:
        raise InputError("no precision configuration given; valid names: hawq-v3, int8, int4 (any intN), or a "
                         "YAML file")
    for part in parts:
        low = part.lower()
        m = _INT_RE.match(low)
        if low in (HAWQ_NAME, "hawq_v3", "hawqv3"):
            out.extend(hawq_v3_configs())
        elif m:
            b = _bits(int(m.group(1)), f"configuration {part}")
            out.append(PrecisionConfig(low, {}, LayerPrecision(b, b), False,
                                       {"source": f"uniform {b}-bit weights and activations"}))
        elif Path(part).is_file():
            cfgs, dyn = configs_from_file(part)
            out.extend(cfgs)
            dynamic = dyn or dynamic
        else:
            raise InputError(f"unknown precision configuration {part!r}; valid: hawq-v3, int8, int4 (any intN "
                             f"with N in 1-32), or an existing YAML file")
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"precision configuration name(s) given twice: {', '.join(dup)}")
    return out, dynamic


# ---------------------------------------------------------------------------------------------------------
# Binding a configuration to a workload
# ---------------------------------------------------------------------------------------------------------

def layer_key(op: Op) -> str:
    return op.module or op.name


def gemm_layers(workload: Workload) -> list[str]:
    """Distinct GEMM layer names (module paths) in execution order."""
    seen: dict[str, None] = {}
    for op in workload.ops:
        if op.is_gemm:
            seen.setdefault(layer_key(op), None)
    return list(seen)


def bind(config: PrecisionConfig, workload: Workload) -> dict[str, LayerPrecision]:
    """Bit widths of every GEMM layer of ``workload`` under ``config``; a configuration whose layers differ
    from the model's raises InputError naming the layers missing from it and those the model lacks."""
    layers = gemm_layers(workload)
    if not layers:
        raise InputError(f"model {workload.model!r} has no GEMM (conv/linear) layers to quantise")
    fixed = {layers[0], layers[-1]} if config.first_last_8bit else set()
    known = set(layers)
    extra = [n for n in config.layers if n not in known]
    missing = [n for n in layers if n not in config.layers and n not in fixed] if config.uniform is None else []
    if extra or missing:
        parts = [f"configuration {config.name!r} does not match model {workload.model!r}: it lists "
                 f"{len(config.layers)} layer(s), the model has {len(layers) - len(fixed)} "
                 + ("quantisable GEMM layers" + (f" (plus {', '.join(sorted(fixed))} fixed at 8 bits)" if fixed else ""))]
        if missing:
            parts.append(f"missing from the configuration: {', '.join(missing)}")
        if extra:
            parts.append(f"not in the model: {', '.join(extra)}")
        raise InputError("; ".join(parts))
    out = {}
    for n in layers:
        if n in fixed:
            out[n] = LayerPrecision(8, 8)
        elif n in config.layers:
            out[n] = config.layers[n]
        else:
            out[n] = config.uniform  # type: ignore[assignment]
    return out


# ---------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------

@dataclass
class NetworkCost:
    """One inference of a network under one precision configuration on one BF-IMNA instance."""

    model: str
    config: str
    arch: dict[str, Any]
    layers: list[LayerCost]
    batch: int = 1
    overlap_movement: bool = False
    dram_bits: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def energy_pJ(self) -> float:
        return sum(lc.energy_total_pJ * lc.count for lc in self.layers)

    @property
    def energy_J(self) -> float:
        return self.energy_pJ * 1e-12

    @property
    def latency_s(self) -> float:
        return sum(lc.latency_s(self.overlap_movement) * lc.count for lc in self.layers)

    @property
    def edp_Js(self) -> float:
        return self.energy_J * self.latency_s

    @property
    def throughput_per_s(self) -> float:
        return self.batch / self.latency_s if self.latency_s > 0 else float("inf")

    def breakdown_pJ(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for lc in self.layers:
            for k, v in lc.energy_pJ.items():
                key = k if lc.op_class == "GEMM" or k in ("movement", "dram") else f"nongemm_{k}"
                out[key] = out.get(key, 0.0) + v * lc.count
        return out

    def split(self) -> dict[str, dict[str, float]]:
        """Energy (pJ) and latency (s) of GEMM and NonGEMM operators."""
        res = {"GEMM": {"energy_pJ": 0.0, "latency_s": 0.0}, "NonGEMM": {"energy_pJ": 0.0, "latency_s": 0.0}}
        for lc in self.layers:
            k = "GEMM" if lc.op_class == "GEMM" else "NonGEMM"
            res[k]["energy_pJ"] += lc.energy_total_pJ * lc.count
            res[k]["latency_s"] += lc.latency_s(self.overlap_movement) * lc.count
        return res

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model, "config": self.config, "cell": self.arch.get("cell"),
            "node_nm": self.arch.get("node_nm"), "vdd_V": self.arch.get("vdd_V"),
            "energy_J": self.energy_J, "latency_s": self.latency_s, "edp_Js": self.edp_Js,
            "throughput_inf_per_s": self.throughput_per_s, "batch": self.batch,
            "dram_MB": self.dram_bits / 8e6,
            "energy_breakdown_pJ": self.breakdown_pJ(), "gemm_nongemm": self.split(),
            **{k: v for k, v in self.meta.items() if k in ("top1", "size_MB", "bops_G", "speedup")},
        }

    def to_dict(self) -> dict[str, Any]:
        d = self.summary()
        d["arch"] = self.arch
        d["layers"] = [lc.to_dict() for lc in self.layers]
        return d


_UNARY_FUSABLE = ("relu", "relu6", "hardtanh", "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid",
                  "batch_norm")


def _is_unary_fusable(op: Op) -> bool:
    t = op.target.lower()
    return (not op.is_gemm) and any(f"{u}" in t for u in _UNARY_FUSABLE) and "backward" not in t


def evaluate(workload: Workload, config: PrecisionConfig, arch, *, bits: Optional[dict[str, LayerPrecision]] = None
             ) -> NetworkCost:
    """Cost of one inference of ``workload`` under ``config`` on ``arch`` (a :class:`BfImnaArch`)."""
    bits = bits or bind(config, workload)
    ops = workload.ops
    # activation width of each op: the a_bits of the next GEMM consumer (HAWQ: activations feeding a conv
    # use its width); after the last GEMM, that GEMM's a_bits
    next_a: list[Optional[int]] = [None] * len(ops)
    nxt: Optional[int] = None
    for i in range(len(ops) - 1, -1, -1):
        next_a[i] = nxt
        if ops[i].is_gemm:
            nxt = bits[layer_key(ops[i])].a_bits
    last_gemm_a = next((bits[layer_key(o)].a_bits for o in reversed(ops) if o.is_gemm), 8)
    layers: list[LayerCost] = []
    resident = False          # the previous op's result is still in CAP rows
    after_gemm = False        # ... and it is a GEMM output (BN can be folded into it)
    for i, op in enumerate(ops):
        if op.is_gemm:
            lp = bits[layer_key(op)]
            out_bits = next_a[i] if next_a[i] is not None else lp.a_bits
            layers.append(cost_gemm(op, lp.w_bits, lp.a_bits, out_bits, arch))
            resident, after_gemm = True, True
            continue
        m = next_a[i] if next_a[i] is not None else last_gemm_a
        fused = resident and _is_unary_fusable(op)
        is_bn = "batch_norm" in op.target.lower()
        lc = cost_nongemm(op, m, arch, fused=fused and (after_gemm if is_bn else True))
        layers.append(lc)
        if not fused:
            t = op.target.lower()
            resident = any(x in t for x in ("add", "mul", "sub")) and op.op_class == "arithmetic"
            after_gemm = False
        elif not is_bn:
            after_gemm = False
    # weights beyond the MAP capacity stream from DRAM every inference, shared out by weight bits
    cfg = arch.config
    seen: dict[str, float] = {}
    for lc in layers:
        if lc.op_class == "GEMM":
            seen[lc.module or lc.op_name] = lc.weight_bits
    total_w = sum(seen.values())
    excess = max(0.0, total_w - cfg.map_capacity_bits)
    if excess > 0 and total_w > 0:
        for lc in layers:
            if lc.op_class == "GEMM" and lc.weight_bits:
                share = excess * lc.weight_bits / total_w
                lc.energy_pJ["dram"] = share * cfg.dram_pJ_per_bit
                lc.time_s["dram"] = share / arch.dram_bits_per_s
    return NetworkCost(model=workload.model, config=config.name, arch=arch.summary(), layers=layers,
                       batch=workload.batch, overlap_movement=cfg.overlap_movement, dram_bits=excess,
                       meta=dict(config.meta))


@dataclass
class DynamicCost:
    """A sequence of inferences, each with its own configuration (dynamic precision, no reconfiguration)."""

    inferences: list[NetworkCost]

    @property
    def energy_J(self) -> float:
        return sum(n.energy_J for n in self.inferences)

    @property
    def latency_s(self) -> float:
        return sum(n.latency_s for n in self.inferences)

    @property
    def reconfiguration_J(self) -> float:
        """Energy of switching precision between inferences: none (bit width is a pass count)."""
        return 0.0

    def summary(self) -> dict[str, Any]:
        k = len(self.inferences)
        return {
            "sequence": [n.config for n in self.inferences],
            "per_inference": [{"config": n.config, "energy_J": n.energy_J, "latency_s": n.latency_s,
                               "edp_Js": n.edp_Js} for n in self.inferences],
            "total_energy_J": self.energy_J, "total_latency_s": self.latency_s,
            "average_energy_J": self.energy_J / k if k else 0.0,
            "average_latency_s": self.latency_s / k if k else 0.0,
            "average_edp_Js": (self.energy_J / k) * (self.latency_s / k) if k else 0.0,
            "reconfiguration_J": self.reconfiguration_J,
        }


def evaluate_dynamic(workload: Workload, sequence: Sequence[PrecisionConfig], arch) -> DynamicCost:
    """Dynamic precision: inference i runs ``sequence[i]``. Each configuration is bound (validated) once."""
    cache: dict[str, NetworkCost] = {}
    out = []
    for cfg in sequence:
        if cfg.name not in cache:
            cache[cfg.name] = evaluate(workload, cfg, arch)
        out.append(cache[cfg.name])
    return DynamicCost(out)


def pick_sequence(configs: Iterable[PrecisionConfig], names: Sequence[str]) -> list[PrecisionConfig]:
    by = {c.name: c for c in configs}
    unknown = [n for n in names if n not in by]
    if unknown:
        raise InputError(f"dynamic sequence names unknown configuration(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(by)}")
    return [by[n] for n in names]


# ---------------------------------------------------------------------------------------------------------
# Reporting helpers
# ---------------------------------------------------------------------------------------------------------

ROW_FIELDS = ("model", "config", "cell", "node_nm", "vdd_V", "energy_mJ", "latency_ms", "edp_Js",
              "throughput_inf_per_s", "gemm_energy_mJ", "nongemm_energy_mJ", "movement_mJ", "dram_mJ", "top1")


def row(nc: NetworkCost) -> dict[str, Any]:
    b = nc.breakdown_pJ()
    s = nc.split()
    return {
        "model": nc.model, "config": nc.config, "cell": nc.arch.get("cell"), "node_nm": nc.arch.get("node_nm"),
        "vdd_V": round(float(nc.arch.get("vdd_V")), 4), "energy_mJ": nc.energy_J * 1e3,
        "latency_ms": nc.latency_s * 1e3, "edp_Js": nc.edp_Js, "throughput_inf_per_s": nc.throughput_per_s,
        "gemm_energy_mJ": s["GEMM"]["energy_pJ"] * 1e-9, "nongemm_energy_mJ": s["NonGEMM"]["energy_pJ"] * 1e-9,
        "movement_mJ": b.get("movement", 0.0) * 1e-9, "dram_mJ": b.get("dram", 0.0) * 1e-9,
        "top1": nc.meta.get("top1"),
    }


def rows_to_csv(rows: list[dict[str, Any]], fields: Sequence[str] = ROW_FIELDS) -> str:
    import csv
    import io
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r[k]))
                    for k in fields})
    return buf.getvalue()


def plot_accuracy_vs_edp(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """PNG: published top-1 accuracy (%) vs EDP (J*s) of the configurations (HAWQ-V3)."""
    import io
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cimscope.atomic import write_bytes

    pts = [r for r in rows if r.get("top1") is not None]
    if not pts:
        raise InputError("no configuration has a published top-1 accuracy to plot")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    groups: dict[tuple, list] = {}
    for r in pts:
        groups.setdefault((r["model"], r["cell"], r["vdd_V"]), []).append(r)
    for (model, cell, vdd), rs in groups.items():
        ax.plot([r["edp_Js"] for r in rs], [r["top1"] for r in rs], "o-", label=f"{model} {cell} {vdd:g} V")
        for r in rs:
            ax.annotate(r["config"], (r["edp_Js"], r["top1"]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
    ax.set_xlabel("EDP per inference (J*s)")
    ax.set_ylabel("top-1 accuracy (%) (HAWQ-V3, published)")
    ax.set_title("BF-IMNA: accuracy vs EDP, HAWQ-V3 ResNet18 configurations")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())


def plot_sweep(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """PNG: energy (mJ), latency (ms) and EDP (J*s) vs supply voltage, one line per model/config/cell."""
    import io
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cimscope.atomic import write_bytes

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["model"], r["config"], r["cell"]), []).append(r)
    pairs = sorted({(m, c) for m, c, _ in groups})
    cmap = plt.get_cmap("tab10" if len(pairs) <= 10 else "tab20")
    color = {p: cmap(i % cmap.N) for i, p in enumerate(pairs)}
    cells = sorted({c for _, _, c in groups}, key=lambda c: (c != "sram", c))
    styles = {c: ("-", "--", ":", "-.")[i % 4] for i, c in enumerate(cells)}
    for (model, cfg, cell), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["vdd_V"])
        v = [r["vdd_V"] for r in rs]
        for ax, key in zip(axes, ("energy_mJ", "latency_ms", "edp_Js")):
            ax.plot(v, [r[key] for r in rs], marker="o", linestyle=styles[cell], color=color[(model, cfg)],
                    label=f"{model} {cfg} {cell}")
    for ax, lab in zip(axes, ("energy per inference (mJ)", "latency per inference (ms)", "EDP (J*s)")):
        ax.set_xlabel("supply voltage (V)")
        ax.set_ylabel(lab)
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[2].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("BF-IMNA sweep (cimscope bitfluid); line style = cell technology")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
