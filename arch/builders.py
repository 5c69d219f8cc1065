"""Build :class:`cimscope.ir.Arch` objects from the Timeloop v0.4 presets in ``arch/presets``.

A preset is a Timeloop v0.4 input (``architecture`` tree in the ``subtree``/``local`` form, optionally an
``ERT``) plus a ``cimscope`` section that Timeloop ignores (clock, which level each CiM placement replaces,
SIMT lanes, which plug-in costs each level). :func:`build_arch` reads the tree with
:func:`cimscope.timeloop.arch_from_yaml` (instances multiply down the tree: ``SM[0..107]`` under ``system``
gives 108 instances of every component below it; storage levels outermost first, the compute component
last), sets the operand width, then fills the ERT row of every level:

* from the preset's own ``ERT`` when it has one (``a100_sm``: the published WWW per-access energies,
  /work/shared/reference/a100.yaml), or
* from the cimscope plug-ins (:mod:`cimscope.plugins`) at the preset's technology (``a100_like``: 7 nm).

ERT energies are per *vector* (row) access, as in Timeloop: a level whose rows hold ``width / datawidth``
words is charged ``energy / block_size`` per word.

Component classes (the one place cimscope decides them): real Timeloop v0.4 gives a component its role from
the *substring* of its class (``include/model/topology.hpp`` bufferClasses/computeClasses,
``src/model/topology.cpp`` isBufferClass/isComputeClass, storage tested first) and silently drops a component
of any other class, so a level written as ``class: cim_buffer`` or ``class: sram_buffer`` is not storage to
Timeloop. A class containing ``DRAM`` also makes Timeloop treat the level as DRAM (no in-memory reduction,
``src/model/buffer.cpp``). :func:`timeloop_class` gives the class a level is written with; the cimscope
plug-in components that cost storage levels are wrapped as Accelergy v0.4 compound components named
``<component>_storage`` (``<component>_DRAM`` off chip), see :func:`compound_components`, so that one class is
both storage to Timeloop and priced by the cimscope plug-in in Accelergy.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Optional

import yaml

from cimscope import ir
from cimscope.errors import InputError, UnknownNameError
from cimscope.plugins.accelergy_adapter import timeloop_extras
from cimscope.plugins.base import get_estimator

PRESET_DIR = Path(__file__).resolve().parent / "presets"

#: Substrings that make a class storage (tested first), compute or a network to Timeloop v0.4
#: (include/model/topology.hpp: bufferClasses, computeClasses, networkClasses; case-sensitive find()).
TIMELOOP_STORAGE_MARKERS: tuple[str, ...] = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
TIMELOOP_COMPUTE_MARKERS: tuple[str, ...] = ("mac", "intmac", "fpmac", "compute")
TIMELOOP_NETWORK_MARKERS: tuple[str, ...] = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")

#: cimscope plug-in components that cost a storage level -> the Timeloop marker their compound class ends in.
STORAGE_COMPONENTS: dict[str, str] = {"sram_buffer": "storage", "register": "storage", "cim_macro": "storage",
                                      "dram": "DRAM", "hbm": "DRAM"}
#: Storage actions Timeloop charges -> the plug-in action that prices them (update = a write of the row).
_STORAGE_ACTIONS: dict[str, dict[str, str]] = {
    "sram_buffer": {"read": "read", "write": "write", "update": "update", "leak": "leak"},
    "register": {"read": "read", "write": "write", "update": "update", "leak": "leak"},
    "dram": {"read": "read", "write": "write", "update": "update", "leak": "leak"},
    "hbm": {"read": "read", "write": "write", "update": "update", "leak": "leak"},
    "cim_macro": {"read": "read", "write": "write", "update": "write", "leak": "leak"},
}

#: GPU-hierarchy presets this module builds (a100_like: whole chip; a100_sm: the WWW single SM).
ARCHS: tuple[str, ...] = ("a100_like", "a100_sm")


def timeloop_role(cls: str) -> Optional[str]:
    """"storage", "compute", "network", or None when real Timeloop would drop a component of class ``cls``."""
    for role, markers in (("storage", TIMELOOP_STORAGE_MARKERS), ("compute", TIMELOOP_COMPUTE_MARKERS),
                          ("network", TIMELOOP_NETWORK_MARKERS)):
        if any(m in str(cls) for m in markers):
            return role
    return None


def compound_class(component: str) -> str:
    """The Accelergy compound class wrapping storage component ``component``: ``sram_buffer_storage``,
    ``hbm_DRAM`` ..."""
    if component not in STORAGE_COMPONENTS:
        raise UnknownNameError("storage plug-in component", component, sorted(STORAGE_COMPONENTS))
    return f"{component}_{STORAGE_COMPONENTS[component]}"


def component_of_class(cls: str) -> Optional[str]:
    """The cimscope plug-in component a class names (its compound class or the component itself), else None."""
    for comp in STORAGE_COMPONENTS:
        if cls in (comp, compound_class(comp)):
            return comp
    return None


def timeloop_class(cls: str, *, compute: bool = False) -> str:
    """The class a level of class ``cls`` is written with so that real Timeloop gives it the role cimscope models
    (storage, or compute for the arithmetic level): unchanged when Timeloop already does; a cimscope storage
    component becomes its compound class (``sram_buffer`` -> ``sram_buffer_storage``, ``hbm`` -> ``hbm_DRAM``);
    any other storage class gets the suffix ``_storage`` (``cim_buffer`` -> ``cim_buffer_storage``), any other
    compute class ``_compute``. InputError when no suffix can help (a compute class Timeloop reads as storage)."""
    want = "compute" if compute else "storage"
    role = timeloop_role(cls)
    if role == want:
        return str(cls)
    if role == "storage" and compute:
        raise InputError(f"compute class {cls!r} contains a Timeloop storage marker "
                         f"({', '.join(TIMELOOP_STORAGE_MARKERS)}): Timeloop would take it as storage")
    comp = None if compute else component_of_class(cls)
    return compound_class(comp) if comp else f"{cls}_{want}"


def bound_attributes(component: str) -> tuple[str, ...]:
    """Attributes a compound class hands its cimscope subcomponent: the plug-in's own and the Timeloop storage
    attributes it converts (``depth``, ``width``, ``n_banks``; :func:`cimscope.plugins.accelergy_adapter.
    timeloop_extras`), technology first."""
    model = get_estimator(component)
    names = [n for n in list(model.attributes) + list(timeloop_extras(model)) if n != "technology"]
    return ("technology",) + tuple(dict.fromkeys(names))


def compound_components() -> dict:
    """The Accelergy v0.4 ``compound_components`` document of cimscope's storage classes: one class per storage
    plug-in component (:data:`STORAGE_COMPONENTS`), whose single subcomponent is the cimscope primitive and
    whose read/write/update/leak actions are the primitive's.

    Accelergy 0.4 gives a subcomponent only the attributes its own ``attributes`` name, evaluated against the
    compound's (compound_component.py ``define_attrs_area_scale_for_subcomponent``): an attribute of the
    Timeloop component that is not bound there never reaches the plug-in (real Accelergy 0.4 then priced a
    196,608-byte SMEM as the plug-in's default 4 KB buffer, 0.66 pJ instead of 6.08 pJ per read). So every
    attribute of :func:`bound_attributes` is bound by name (``depth: depth``) and declared on the class with a
    null default, which Accelergy drops, so the plug-in's own default applies when the component omits it."""
    classes = []
    for comp in STORAGE_COMPONENTS:
        acts = _STORAGE_ACTIONS[comp]
        names = bound_attributes(comp)
        attrs: dict[str, Any] = {"technology": "must_specify", "global_cycle_seconds": "must_specify"}
        attrs.update({n: None for n in names if n not in attrs})
        classes.append({
            "name": compound_class(comp),
            "attributes": attrs,
            "subcomponents": [{"name": "storage", "class": comp, "attributes": {n: n for n in names}}],
            "actions": [{"name": action, "subcomponents": [{"name": "storage", "actions": [{"name": sub}]}]}
                        for action, sub in acts.items()],
        })
    return {"compound_components": {"version": "0.4", "classes": classes}}


#: Actions Timeloop asks Accelergy for, per role (timeloopfe writes them as ``required_actions``; without them
#: Accelergy 0.4 gives a primitive component such as ``tensor_core_mac`` no ERT row and timeloop-model falls
#: back to its internal energy model).
REQUIRED_ACTIONS: dict[str, list[str]] = {"storage": ["read", "write", "update", "leak"], "compute": ["compute"]}


def available_archs() -> list[str]:
    """Names of the Timeloop architecture presets (a100_like, a100_sm and any other Timeloop preset file)."""
    names = set(ARCHS)
    if PRESET_DIR.is_dir():
        for p in PRESET_DIR.glob("*.yaml"):
            head = p.read_text()[:20000]
            if "\narchitecture:" in "\n" + head:      # Timeloop presets only (not e.g. bf_imna's own format)
                names.add(p.stem)
    return sorted(names)


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if name not in available_archs() or not path.is_file():
        raise UnknownNameError("arch", name, [a for a in available_archs() if (PRESET_DIR / f"{a}.yaml").is_file()])
    return path


@functools.lru_cache(maxsize=None)
def _load_preset_cached(name: str) -> str:
    return preset_path(name).read_text()


def load_preset(name: str) -> dict:
    """The preset YAML as a dict (a fresh copy each call)."""
    return yaml.safe_load(_load_preset_cached(name))


def technology_nm(value: Any) -> float:
    """'45nm' -> 45.0, 7 -> 7.0."""
    s = str(value).strip().lower().replace("nm", "")
    try:
        return float(s)
    except ValueError:
        raise InputError(f"technology {value!r} is not a node in nm (e.g. '45nm')") from None


def macs_per_unit_for_bits(bits: int) -> float:
    """Tensor-core MAC throughput relative to int8 for ``bits``-bit operands: the dense peak of the A100
    tensor-core format that runs them (:func:`cimscope.plugins.gpu_compute.tensor_core_format`: int4 1248,
    int8 624, fp16 312 TOPS from a100.yaml; TF32 156 TFLOPS for wider operands, whitepaper) over int8's."""
    from cimscope.plugins.gpu_compute import tensor_core_format
    return tensor_core_format(bits).dense_ops_per_s / tensor_core_format(8).dense_ops_per_s


def build_arch(name: str, *, bits: int = 8, ert: str = "auto") -> ir.Arch:
    """The baseline architecture ``name`` (no CiM) for operands of ``bits`` bits.

    ``ert``: "auto" uses the preset's ERT when it has one, else the plug-ins; "preset" requires the preset
    ERT; "plugins" always estimates with the plug-ins (for cross-checks).
    """
    return copy.deepcopy(_build_arch_cached(name, int(bits), ert))


@functools.lru_cache(maxsize=64)
def _build_arch_cached(name: str, bits: int, ert: str) -> ir.Arch:
    from cimscope.timeloop import arch_from_yaml
    from cimscope.timeloop.ert import apply_ert, ert_table

    if ert not in ("auto", "preset", "plugins"):
        raise UnknownNameError("ERT source", ert, ["auto", "preset", "plugins"])
    if bits < 1 or bits > 32:
        raise InputError(f"operand width {bits} bits is outside 1..32")
    preset = load_preset(name)
    meta = preset.get("cimscope") or {}
    arch = arch_from_yaml(preset["architecture"], where=f"arch preset {name}")
    arch.name = name
    tech = technology_nm(arch.technology)
    arch.technology = f"{tech:g}nm"
    has_table = bool((preset.get("ERT") or {}).get("tables"))
    if ert == "preset" and not has_table:
        raise InputError(f"arch {name!r} has no ERT in its preset; use ert='plugins'")
    use_preset = has_table and ert in ("auto", "preset")

    # Operand width: words are `bits` wide. Bandwidths are given for the preset's datawidth (one-byte words)
    # and scale by datawidth/bits; the tensor-core MAC count per unit follows the published dense peaks.
    # A row narrower than one word is widened to one word; the level keeps its capacity in bytes (fewer,
    # wider rows) and a published per-row energy scales with the row width (energy per byte unchanged).
    base_dw = arch.compute.word_bits
    row_scale: dict[str, float] = {}
    if bits != base_dw:
        scale_words = base_dw / bits
        for lv in arch.levels:
            if lv.word_bits == base_dw:
                lv.word_bits = bits
                if lv.width % bits:
                    new_width = max(bits, (lv.width // bits) * bits)
                    if lv.depth is not None:
                        lv.depth = max(1, lv.depth * lv.width // new_width)
                    row_scale[lv.name] = new_width / lv.width
                    lv.width = new_width
            for attr in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"):
                v = getattr(lv, attr)
                if v is not None:
                    setattr(lv, attr, v * scale_words)
        per_unit = macs_per_unit_for_bits(bits)
        arch.compute.instances = int(round(arch.compute.instances * per_unit))
        arch.compute.mesh_y = max(1, int(round(arch.compute.mesh_y * per_unit)))
        arch.compute.word_bits = bits
    for lv in arch.levels + [arch.compute]:
        lv.attributes = {k: v for k, v in lv.attributes.items() if k not in ("meshX", "meshY")}
        lv.attributes["technology_nm"] = tech
    arch.attributes = {"preset": name, "clock_GHz": float(meta.get("clock_GHz", 1e-9 / arch.cycle_seconds)),
                       "bits": bits, "placements": dict(meta.get("placements") or {}),
                       "simt": dict(meta.get("simt") or {}), "description": meta.get("description", ""),
                       "ert_source": "preset" if use_preset else "plugins"}
    if use_preset:
        table = ert_table(preset["ERT"], where=f"arch preset {name} ERT")
        missing = [lv.name for lv in arch.levels + [arch.compute] if lv.name not in table]
        if missing:
            raise InputError(f"arch {name!r}: the preset ERT has no row for {', '.join(missing)}")
        apply_ert(arch, table)
        for lv in arch.levels:
            for action in ("read", "write", "update"):
                if lv.name in row_scale and action in lv.action_energy_pJ:
                    lv.action_energy_pJ[action] *= row_scale[lv.name]
        for lv in arch.levels + [arch.compute]:
            lv.attributes["ert_source"] = "published (a100.yaml www_tensor_core_like_sm.energy_per_access_pJ)"
    else:
        from cimscope.arch import plugin_costs
        plugin_costs.fill_ert(arch, plugin_components(arch, meta.get("plugins") or {}, where=f"arch preset {name}"))
    return arch


def plugin_components(arch: ir.Arch, section: dict, *, where: str = "arch") -> dict[str, dict]:
    """Level name -> ``{"component", "attributes"}`` of the plug-in that costs it: the component its class names
    (``sram_buffer_storage`` -> ``sram_buffer``; a compute class that is itself a plug-in component, such as
    ``tensor_core_mac``), else the preset's ``cimscope.plugins`` entry (which may add attributes; naming another
    component than the class does is an error)."""
    from cimscope.plugins.base import get_estimator
    out: dict[str, dict] = {}
    for lv in arch.levels + [arch.compute]:
        spec = dict(section.get(lv.name) or {})
        comp = component_of_class(lv.cls)
        if comp is None and lv is arch.compute:
            try:
                comp = get_estimator(lv.cls).component_name
            except UnknownNameError:
                comp = None
        if comp is not None:
            if spec.get("component", comp) != comp:
                raise InputError(f"{where}: level {lv.name} has class {lv.cls} (plug-in {comp}) but cimscope.plugins "
                                 f"names {spec['component']}")
            spec["component"] = comp
        if spec:
            out[lv.name] = spec
    return out


def placement_levels(arch: ir.Arch) -> dict[str, dict]:
    """Placement name -> {"level": storage level it replaces, "group": level whose instance groups it}."""
    return dict(arch.attributes.get("placements") or {})


def capacity_bytes(level: ir.Level) -> Optional[int]:
    """Bytes per instance (None for unbounded DRAM)."""
    if level.depth is None:
        return None
    return level.depth * level.width // 8
