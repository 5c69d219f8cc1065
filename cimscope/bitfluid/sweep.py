"""A BF-IMNA study grid: models x precision configurations x cell technologies x supply voltages, plus an
optional dynamic-precision sequence per model and architecture.

:class:`BitfluidOptions` is the one typed spec of a run (pydantic, strict). :func:`plan` validates all of it
before anything heavy happens (model names, configuration files, the ``--arch`` file, each architecture of the
grid, the sequence) and returns a :class:`Plan`; :func:`run` exports each model once and evaluates the grid,
giving a :class:`SweepResult` that knows its JSON document, its CSV/PNG files and its table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from cimscope.arch import bf_imna
from cimscope.atomic import write_json, write_text
from cimscope.bitfluid.network import NetworkCost, evaluate, evaluate_dynamic, pick_sequence
from cimscope.bitfluid.plots import plot_accuracy_vs_edp, plot_sweep
from cimscope.bitfluid.precision import LayerPrecision, PrecisionConfig, bind, load_configs
from cimscope.bitfluid.report import LAYER_FIELDS, layer_row, print_report, row, rows_to_csv
from cimscope.errors import InputError
from cimscope.validation import BATCH_RANGE, FACTORY_TIMEOUT_S, IMAGE_SIZE_RANGE, FinitePositiveFloat, load_yaml
from cimscope.workloads import export_model
from cimscope.workloads.zoo import check_model_name

UNITS = {"energy_mJ": "mJ", "latency_ms": "ms", "edp_Js": "J*s", "throughput_inf_per_s": "1/s",
         "top1": "% (published)", "energy_breakdown_pJ": "pJ"}


class BitfluidOptions(BaseModel):
    """Everything a `cimscope bitfluid` run is given; validated strictly, in one place."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    models: list[StrictStr] = Field(min_length=1)
    configs: StrictStr = Field(min_length=1)
    techs: list[StrictStr] = Field(["sram"], min_length=1)
    vdds: list[Optional[FinitePositiveFloat]] = Field([None], min_length=1)
    node_nm: Optional[FinitePositiveFloat] = None
    arch_file: Optional[Path] = None
    sequence: list[StrictStr] = Field(default_factory=list)
    batch: Annotated[int, Field(ge=BATCH_RANGE[0], le=BATCH_RANGE[1])] = 1
    image_size: Annotated[int, Field(ge=IMAGE_SIZE_RANGE[0], le=IMAGE_SIZE_RANGE[1])] = 224
    cache_dir: Optional[Path] = None
    timeout_s: Optional[FinitePositiveFloat] = FACTORY_TIMEOUT_S     # file.py:factory models (contain.py)


@dataclass
class Plan:
    """A validated grid: the configurations, the dynamic sequence and the resolved architectures."""

    options: BitfluidOptions
    configs: list[PrecisionConfig]
    sequence: list[PrecisionConfig]
    archs: list[Any]                                   # cimscope.arch.bf_imna.BfImnaArch

    @property
    def steps(self) -> int:
        n = len(self.options.models)
        return n * (1 + len(self.configs) * len(self.archs) + (len(self.archs) if self.sequence else 0))


def plan(options: BitfluidOptions) -> Plan:
    """Check every part of ``options`` (no export yet): InputError of one line for the first problem."""
    for m in options.models:
        check_model_name(m)
    cfgs, file_dynamic = load_configs(options.configs)
    names = list(options.sequence) or (file_dynamic or [])
    sequence = pick_sequence(cfgs, names) if names else []
    if options.arch_file is None:
        base = bf_imna.load_config()
    else:
        base = bf_imna.config_from_dict(load_yaml(options.arch_file, "BF-IMNA config"),
                                        where=f"BF-IMNA config {options.arch_file.name}")
    archs = []
    for t in options.techs:
        for v in options.vdds:
            changes: dict[str, Any] = {"cell": t.lower()}
            if options.node_nm is not None:
                changes["node_nm"] = float(options.node_nm)
            if v is not None:
                changes["vdd_V"] = float(v)
            archs.append(bf_imna.resolve(base.with_(**changes)))
    return Plan(options, cfgs, sequence, archs)


@dataclass
class SweepResult:
    """Every run of a grid: network costs, their rows, per-layer rows and dynamic-precision summaries."""

    runs: list[NetworkCost] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    layer_rows: list[dict[str, Any]] = field(default_factory=list)
    dynamic: list[dict[str, Any]] = field(default_factory=list)
    archs: list[dict[str, Any]] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        """The JSON document of ``--json`` and ``bitfluid.json``."""
        return {"runs": [dict(row(nc), energy_breakdown_pJ=nc.breakdown_pJ(), gemm_nongemm=nc.split())
                         for nc in self.runs],
                "dynamic": self.dynamic, "arch": self.archs, "units": UNITS}

    def write(self, out: Path) -> list[Path]:
        """bitfluid.csv, bitfluid.json, layers.csv, and the plots that apply, written atomically in ``out``."""
        written = [write_text(out / "bitfluid.csv", rows_to_csv(self.rows)),
                   write_json(out / "bitfluid.json", self.doc()),
                   write_text(out / "layers.csv", rows_to_csv(self.layer_rows, LAYER_FIELDS))]
        if any(r.get("top1") is not None for r in self.rows):
            written.append(plot_accuracy_vs_edp(self.rows, out / "accuracy_vs_edp.png"))
        if len({r["vdd_V"] for r in self.rows}) > 1:
            written.append(plot_sweep(self.rows, out / "sweep.png"))
        return written

    def print(self, written: Sequence[Path] = ()) -> None:
        """The table, dynamic totals, architectures and written files, on stderr."""
        print_report(self.rows, self.dynamic, self.archs, written)


def _evaluate_model(result: SweepResult, p: Plan, model: str, wl, bound: dict[str, dict[str, LayerPrecision]],
                    step: Callable[[str], None]) -> None:
    for arch in p.archs:
        for c in p.configs:
            step(f"{model} {c.name} {arch.config.cell} {arch.cell.voltage_V:g} V")
            nc = evaluate(wl, c, arch, bits=bound[c.name])
            result.runs.append(nc)
            r = row(nc)
            result.rows.append(r)
            for lc in nc.layers:
                result.layer_rows.append({"model": model, "config": c.name, "cell": r["cell"], "vdd_V": r["vdd_V"],
                                          **layer_row(lc, nc.overlap_movement)})
        if p.sequence:
            step(f"{model} dynamic {arch.config.cell} {arch.cell.voltage_V:g} V")
            dyn = evaluate_dynamic(wl, p.sequence, arch)
            result.dynamic.append({"model": model, "cell": arch.config.cell, "vdd_V": arch.cell.voltage_V,
                                   **dyn.summary()})


def run(p: Plan, step: Optional[Callable[[str], None]] = None) -> SweepResult:
    """Export each model once (cached in ``cache_dir``), bind every configuration to it (a mismatch is an
    InputError naming the layers), then evaluate the grid. ``step(description)`` is called before each step."""
    step = step or (lambda _desc: None)
    o = p.options
    result = SweepResult(archs=[a.summary() for a in p.archs])
    for m in o.models:
        step(f"export {m}")
        wl = export_model(m, batch=o.batch, image_size=o.image_size,
                          cache_dir=str(o.cache_dir) if o.cache_dir else None, timeout_s=o.timeout_s)
        bound = {c.name: bind(c, wl) for c in p.configs}            # validates every config first
        _evaluate_model(result, p, m, wl, bound, step)
    return result


#: The command-line option of each BitfluidOptions field (for error messages).
OPTION_NAMES = {"models": "--model", "configs": "--configs", "techs": "--tech", "vdds": "--vdd", "node_nm": "--node",
                "arch_file": "--arch", "sequence": "--sequence", "batch": "--batch", "image_size": "--image-size",
                "cache_dir": "--cache-dir", "timeout_s": "--timeout"}


#: The valid values of each option, in words.
OPTION_VALID = {"models": "one or more model names, comma-separated", "techs": "sram, reram (comma-separated)",
                "vdds": "finite voltages > 0 (V), comma-separated", "node_nm": "a finite node > 0 (nm)",
                "batch": f"an integer in [{BATCH_RANGE[0]}, {BATCH_RANGE[1]}]",
                "image_size": f"an integer in [{IMAGE_SIZE_RANGE[0]}, {IMAGE_SIZE_RANGE[1]}]",
                "timeout_s": "a finite number of seconds > 0"}


def make_options(**fields: Any) -> BitfluidOptions:
    """BitfluidOptions from option values; a bad one raises one line naming its command-line option and the
    valid values."""
    try:
        return BitfluidOptions.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = str(err["loc"][0]) if err.get("loc") else ""
        msg = err.get("msg", "invalid")
        valid = OPTION_VALID.get(name)
        raise InputError(f"{OPTION_NAMES.get(name, name)} {err.get('input')!r} is invalid "
                         f"({msg[:1].lower() + msg[1:]})" + (f"; valid: {valid}" if valid else "")) from None
