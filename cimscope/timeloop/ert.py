"""Accelergy v0.4 energy and area reference tables (ERT / ART).

ERT: ``{ERT: {version: 0.4, tables: [{name: top.Buffer[1..16], actions: [{name: read, arguments: {...},
energy: 0.36}, ...]}]}}`` (energy in pJ per action). ART: ``{ART: {tables: [{name: ..., area: 845.98}]}}``
(um^2 per instance). Table names are matched to levels by their last dotted component without its
``[a..b]`` range. When an action is listed several times with different arguments (e.g. ``data_delta``),
the most expensive entry is kept: Timeloop's model charges one energy per action type. Energies and areas are
finite numbers >= 0 (never booleans), checked like every number of the loader (``parsing.as_number``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Union

from cimscope import ir
from cimscope.errors import InputError
from cimscope.timeloop.parsing import as_number, load_yaml, parse_name, safe_name


def _base(name: str) -> str:
    m = re.search(r"([^.\[\]]+(?:\[[^\]]*\])?)\s*$", str(name))
    return parse_name(m.group(1) if m else str(name))[0]


def ert_table(spec: Any, *, where: str = "ERT") -> dict[str, dict[str, float]]:
    """Component base name -> action -> energy (pJ)."""
    if isinstance(spec, dict) and "ERT" in spec:
        spec = spec["ERT"]
    if not isinstance(spec, dict) or not isinstance(spec.get("tables"), list):
        raise InputError(f"{where}: expected an ERT with a 'tables' list")
    out: dict[str, dict[str, float]] = {}
    for t in spec["tables"]:
        if not isinstance(t, dict) or "name" not in t:
            raise InputError(f"{where}: a table entry has no name: {t!r}")
        comp = _base(t["name"])
        acts = out.setdefault(comp, {})
        for a in t.get("actions") or []:
            if not isinstance(a, dict) or "name" not in a or "energy" not in a:
                raise InputError(f"{where}: {t['name']}: an action needs a name and an energy: {a!r}")
            e = float(as_number(a["energy"], f"{where}: {t['name']}.{a['name']}.energy (pJ per action)", low=0))
            acts[str(a["name"])] = max(e, acts.get(str(a["name"]), float("-inf")))
    return out


def art_table(spec: Any, *, where: str = "ART") -> dict[str, float]:
    """Component base name -> area per instance (um^2)."""
    if isinstance(spec, dict) and "ART" in spec:
        spec = spec["ART"]
    if not isinstance(spec, dict) or not isinstance(spec.get("tables"), list):
        raise InputError(f"{where}: expected an ART with a 'tables' list")
    out: dict[str, float] = {}
    for t in spec["tables"]:
        if not isinstance(t, dict) or "name" not in t or "area" not in t:
            raise InputError(f"{where}: a table entry needs a name and an area: {t!r}")
        out[_base(t["name"])] = float(as_number(t["area"], f"{where}: {t['name']}.area (um^2 per instance)", low=0))
    return out


def apply_ert(arch: ir.Arch, table: dict[str, dict[str, float]]) -> ir.Arch:
    """Fill ``action_energy_pJ`` of every level named in ``table`` (in place; returns ``arch``)."""
    for lv in list(arch.levels) + [arch.compute]:
        if lv.name in table:
            lv.action_energy_pJ = dict(table[lv.name])
    return arch


def apply_art(arch: ir.Arch, table: dict[str, float]) -> ir.Arch:
    for lv in list(arch.levels) + [arch.compute]:
        if lv.name in table:
            lv.area_um2 = float(table[lv.name])
    return arch


def _read(path: Union[str, Path]) -> Any:
    return load_yaml(path)


def load_ert(path: Union[str, Path], arch: Optional[ir.Arch] = None) -> dict[str, dict[str, float]]:
    """Read an ERT file; with ``arch``, also fill each level's ``action_energy_pJ``."""
    table = ert_table(_read(path), where=str(path))
    if arch is not None:
        apply_ert(arch, table)
    return table


def load_art(path: Union[str, Path], arch: Optional[ir.Arch] = None) -> dict[str, float]:
    """Read an ART file; with ``arch``, also fill each level's ``area_um2``."""
    table = art_table(_read(path), where=str(path))
    if arch is not None:
        apply_art(arch, table)
    return table


def _table_name(arch: ir.Arch, name: str, instances: int) -> str:
    return f"{safe_name(arch.name)}.{name}[1..{instances}]"


def arch_to_ert(arch: ir.Arch) -> dict:
    """An ``{ERT: ...}`` document from the levels' ``action_energy_pJ`` (for timeloop-model)."""
    tables = []
    for lv in list(arch.levels) + [arch.compute]:
        if not lv.action_energy_pJ:
            continue
        tables.append({"name": _table_name(arch, lv.name, lv.instances),
                       "actions": [{"name": a, "arguments": {"global_cycle_seconds": arch.cycle_seconds,
                                                             "action_latency_cycles": 1},
                                    "energy": float(e)} for a, e in lv.action_energy_pJ.items()]})
    return {"ERT": {"version": "0.4", "tables": tables}}


def arch_to_art(arch: ir.Arch) -> dict:
    tables = [{"name": _table_name(arch, lv.name, lv.instances), "area": float(lv.area_um2)}
              for lv in list(arch.levels) + [arch.compute]]
    return {"ART": {"version": "0.4", "tables": tables}}
