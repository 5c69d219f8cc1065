"""The reference runs of the public Timeloop/Accelergy exercises whose timeloopfe source files are present, each
with its sources (and Jinja2 data) and the ``parsed-processed-input.yaml`` timeloopfe produced from them; plus
:func:`model_view`, the part of a processed document that cimscope's loader and model read."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from refpaths import REFERENCE

EXERCISES = REFERENCE / "timeloop_exercises"
DESIGNS = EXERCISES / "example_designs" / "example_designs"
ISPASS = EXERCISES / "tutorial_exercises" / "01_accelergy_timeloop_2020_ispass"
TUT2024 = EXERCISES / "tutorial_exercises" / "02_interface_and_design_space_exploration_2024"


@dataclass
class Case:
    name: str
    sources: list[Path]
    run: Path                     # folder holding parsed-processed-input.yaml and the stats
    jinja: dict = field(default_factory=dict)

    @property
    def tool(self) -> str:
        return "mapper" if list(self.run.glob("timeloop-mapper.stats.txt")) else "model"

    @property
    def processed(self) -> Path:
        return self.run / "parsed-processed-input.yaml"

    @property
    def map_file(self) -> Optional[Path]:
        p = self.run / "timeloop-mapper.map.yaml"
        return p if p.exists() else None

    @property
    def ert(self) -> Path:
        return self.run / f"timeloop-{self.tool}.ERT.yaml"


def _ispass(sub: str, files: list[str], run: str, jinja: Optional[dict] = None) -> Case:
    base = ISPASS / sub
    return Case(f"2020/{sub.split('/')[-1]}/{run}".rstrip("/"), [base / f for f in files],
                base / "ref-output" / run if run else base / "ref-output", jinja or {})


def cases() -> list[Case]:
    out: list[Case] = []
    for run in sorted(DESIGNS.glob("**/default_problem/parsed-processed-input.yaml")):
        folder = run.parent.parent.parent
        arch = str(folder.relative_to(DESIGNS))
        out.append(Case(f"designs/{arch}/{run.parent.parent.name}", [DESIGNS / "top.yaml.jinja2"], run.parent,
                        {"architecture": arch}))
    t = "timeloop/"
    out += [
        _ispass(t + "00-model-conv1d-1level", ["arch/1level.arch.yaml", "map/conv1d-1level.map.yaml",
                                                "prob/conv1d.prob.yaml"], ""),
        _ispass(t + "01-model-conv1d-2level", ["arch/2level.arch.yaml", "map/conv1d-2level-ws.map.yaml",
                                                "prob/conv1d.prob.yaml"], "ws"),
        _ispass(t + "01-model-conv1d-2level", ["arch/2level.arch.yaml", "map/conv1d-2level-os.map.yaml",
                                                "prob/conv1d.prob.yaml"], "os"),
        _ispass(t + "02-model-conv1d+oc-2level", ["arch/2level.arch.yaml", "map/conv1d+oc-2level-os.map.yaml",
                                                   "prob/conv1d+oc.prob.yaml"], "no-tiling"),
        _ispass(t + "02-model-conv1d+oc-2level", ["arch/2level.arch.yaml",
                                                   "map/conv1d+oc-2level-os-tiled.map.yaml",
                                                   "prob/conv1d+oc.prob.yaml"], "tiling"),
        _ispass(t + "03-model-conv1d+oc-3level", ["arch/3level.arch.yaml", "map/conv1d+oc-3level.map.yaml",
                                                   "prob/conv1d+oc.prob.yaml"], "no-bypass"),
        _ispass(t + "03-model-conv1d+oc-3level", ["arch/3level.arch.yaml", "map/conv1d+oc-3level-bypass.map.yaml",
                                                   "prob/conv1d+oc.prob.yaml"], "bypass"),
        _ispass(t + "04-model-conv1d+oc-3levelspatial", ["arch/3levelspatial.arch.yaml",
                                                          "map/conv1d+oc+ic-3levelspatial-cp-ws.map.yaml",
                                                          "prob/conv1d+oc+ic.prob.yaml"], "cp"),
        _ispass(t + "04-model-conv1d+oc-3levelspatial", ["arch/3levelspatial.arch.yaml",
                                                          "map/conv1d+oc+ic-3levelspatial-kp-ws.map.yaml",
                                                          "prob/conv1d+oc+ic.prob.yaml"], "kp"),
    ]
    m5 = ["arch/3level.arch.yaml", "prob/conv1d+oc.prob.yaml", "mapper/exhaustive.mapper.yaml"]
    out += [_ispass(t + "05-mapper-conv1d+oc-3level", m5 + [f"constraints/{c}.constraints.yaml"], run)
            for c, run in (("conv1d+oc-3level-freebypass", "freebypass"), ("null", "null"),
                           ("conv1d+oc-3level-1mapping", "baked"))]
    comps = [f"arch/components/{c}.yaml" for c in ("intmac", "regfile", "smartbuffer_RF", "smartbuffer_SRAM")]
    out.append(_ispass(t + "06-mapper-convlayer-eyeriss", ["arch/eyeriss_like.yaml", *comps, "mapper/mapper.yaml",
                                                            "prob/VGG02_layer5.yaml"], ""))
    for run, mac, psum, iw in (("fpmac", "fpmac", 32, 32), ("intmac", "intmac", 16, 8)):
        out.append(_ispass("timeloop+accelergy", ["arch/arch.yaml", *comps, "mapper/mapper.yaml", "prob/prob.yaml"],
                           run, {"mac_class": mac, "psum_datawidth": psum, "input_weight_datawidth": iw}))
    # The stored run is the exercise's last step, with the register level turned off.
    out.append(Case("2024/interface", [TUT2024 / "top.yaml.jinja"], TUT2024 / "outputs", {"reg_enabled": False}))
    return out


_IGNORED_ATTRS = {"has_power_gating", "power_gated_at", "version"}


def _num(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        return v
    try:
        f = float(v)
    except ValueError:
        return str(v)
    return int(f) if f.is_integer() else f


def _constraint(c: dict) -> dict:
    out = {}
    for k, v in c.items():
        if k in ("target", "type") or v is None or v == [] or v == {}:
            continue
        if k == "factors":
            v = sorted(str(f).replace(" ", "") for f in (v.split(",") if isinstance(v, str) else v))
        elif k in ("keep", "bypass", "no_reuse", "no_coalesce"):
            v = sorted(v)
        out[k] = _num(v) if not isinstance(v, (list, dict)) else v
    return out


def model_view(doc: dict, tool: str) -> dict:
    """Architecture levels (name, class, attributes), top-level technology and cycle, constraints by
    (target, type), problem (dimensions, sizes, coefficients, projections) and the mapper settings given."""
    top = doc["architecture"]["subtree"][0]
    levels = []
    for comp in top["local"]:
        attrs = {k: _num(v) for k, v in (comp.get("attributes") or {}).items()
                 if k not in _IGNORED_ATTRS and v is not None}
        levels.append((comp["name"], comp.get("class"), comp.get("subclass"), attrs))
    cons_list = (doc.get("mapping") or []) if tool == "model" else \
        ((doc.get("architecture_constraints") or {}).get("targets") or [])
    cons = {}
    for c in cons_list:
        cons.setdefault((c["target"], c["type"]), {}).update(_constraint(c))
    prob = doc["problem"]
    shape = prob["shape"]
    coefs = {c["name"]: c.get("default", 1) for c in shape.get("coefficients") or []}
    dims = list(shape["dimensions"])
    inst = {k: v for k, v in prob["instance"].items() if k in dims or k in coefs}
    spaces = [(d["name"], d["projection"], bool(d.get("read_write", False))) for d in shape["data_spaces"]]
    ta = top.get("attributes") or {}
    return {"levels": levels, "technology": ta.get("technology"),
            "cycle": _num(ta.get("global_cycle_seconds")), "constraints": cons,
            "problem": {"dims": dims, "instance": inst, "coefficients": coefs, "data_spaces": spaces}}


def differences(mine: dict, ref: dict, path: str = "") -> list[str]:
    """Where two model views differ (first few)."""
    if isinstance(mine, dict) and isinstance(ref, dict):
        out = []
        for k in list(ref) + [k for k in mine if k not in ref]:
            if k not in mine or k not in ref:
                out.append(f"{path}/{k}: {'missing' if k not in mine else 'extra'}")
            else:
                out += differences(mine[k], ref[k], f"{path}/{k}")
        return out
    if isinstance(mine, (list, tuple)) and isinstance(ref, (list, tuple)) and len(mine) == len(ref):
        return [d for i, (a, b) in enumerate(zip(mine, ref)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if mine == ref else [f"{path}: {mine!r} != {ref!r}"]
