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
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Optional

import yaml

from cimscope import ir
from cimscope.errors import InputError, UnknownNameError

PRESET_DIR = Path(__file__).resolve().parent / "presets"

#: GPU-hierarchy presets this module builds (a100_like: whole chip; a100_sm: the WWW single SM).
ARCHS: tuple[str, ...] = ("a100_like", "a100_sm")


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
    """Tensor-core MAC throughput relative to int8 (a100.yaml: int4 1248, int8 624, fp16 312 TOPS dense;
    32-bit operands run as TF32 at half the FP16 rate, 156 TFLOPS in the whitepaper)."""
    if bits <= 4:
        return 2.0
    if bits <= 8:
        return 1.0
    if bits <= 16:
        return 0.5
    return 0.25


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
        plugin_costs.fill_ert(arch, (meta.get("plugins") or {}))
    return arch


def placement_levels(arch: ir.Arch) -> dict[str, dict]:
    """Placement name -> {"level": storage level it replaces, "group": level whose instance groups it}."""
    return dict(arch.attributes.get("placements") or {})


def capacity_bytes(level: ir.Level) -> Optional[int]:
    """Bytes per instance (None for unbounded DRAM)."""
    if level.depth is None:
        return None
    return level.depth * level.width // 8
