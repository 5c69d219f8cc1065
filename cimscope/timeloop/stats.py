"""timeloop-model statistics: parse ``timeloop-model.stats.txt`` / ``.map.txt`` into :class:`ir.Result`,
and write the same text formats from a Result (the builtin engine fills ``Result.extra["levels"]`` with
the same labelled per-level blocks this parser reads, so one writer serves both).

Definitions (from the stats file itself and Timeloop's buffer model):

* ``Scalar reads/fills/updates (per-instance)``: word accesses to one instance; ``Result.accesses`` holds
  them times ``Utilized instances (max)`` (totals over instances).
* ``Energy (total)`` of a data space = vector accesses x ERT energy per action x utilized instances; a
  level's energy (BufferLevel::Energy) adds its ``Temporal Reduction Energy (total)``, ``Address Generation
  Energy (total)`` and ``Leakage energy (total)``; the ``fJ/Compute`` block gives the same per compute. Both
  are printed with 2 decimals, so a level's energy is read from whichever has the smaller rounding error:
  the block's pJ lines (0.005 pJ each) or ``fJ/Compute x Computes / 1000`` (0.005 fJ x Computes). With 1.2e8
  computes the ``fJ/Compute`` line of a small level (``RF = 0.12``) is 2 % off, its pJ lines exact to 1e-6
  (real timeloop-model 4cf6d4c, tests/test_timeloop_stats.py).
* ``Summary Stats``: ``Cycles``, ``Utilization`` (%), ``Energy`` (uJ), ``EDP(J*cycle)``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Union

from cimscope import ir
from cimscope.errors import InputError
from cimscope.timeloop.parsing import perm_list

_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def stat_value(text: Optional[str]) -> Optional[float]:
    """Leading number of a stats value (``"0.36 pJ"`` -> 0.36, ``"16 (16*1)"`` -> 16, ``"-"`` -> None)."""
    if text is None:
        return None
    m = _NUM.match(str(text))
    if not m:
        return None
    v = float(m.group(1))
    return v


def _read_text(text_or_path: Union[str, Path]) -> tuple[str, str]:
    if isinstance(text_or_path, Path) or ("\n" not in str(text_or_path) and Path(str(text_or_path)).exists()):
        p = Path(text_or_path)
        try:
            return p.read_text(encoding="utf-8"), str(p)
        except OSError as exc:
            raise InputError(f"{p}: cannot be read ({exc.strerror})") from None
    text = str(text_or_path)
    if "\n" not in text:
        raise InputError(f"{text}: no such stats file")
    return text, "<text>"


_SECTIONS = {"Buffer and Arithmetic Levels": "levels", "Networks": "networks",
             "Operational Intensity Stats": "intensity", "Summary Stats": "summary"}


class _StatsReader:
    """Line-by-line reader of a stats file: one method per section."""

    def __init__(self) -> None:
        self.levels: list[dict] = []
        self.summary: dict[str, str] = {}
        self.intensity: dict[str, Any] = {"total": {}, "levels": {}}
        self.per_compute: dict[str, float] = {}
        self.per_compute_unit = "fJ"
        self.computes_line: Optional[float] = None
        self.fj_width: Optional[int] = None
        self.per_compute_bound = 0.0
        self.cur: Optional[dict] = None
        self.sub: Optional[str] = None
        self.ds: Optional[str] = None
        self.int_level: Optional[str] = None

    def level_line(self, raw: str, s: str) -> None:
        m = re.match(r"^Level (\d+)$", s)
        if m:
            self.cur = {"index": int(m.group(1)), "name": None, "kind": None, "specs": {}, "stats": {},
                        "dataspaces": {}}
            self.levels.append(self.cur)
            self.sub = self.ds = None
            return
        m = re.match(r"^=== (.+) ===$", s)
        if m and self.cur is not None:
            self.cur["name"] = m.group(1).strip()
            return
        if s in ("SPECS", "STATS", "MAPPING"):
            self.sub, self.ds = s.lower(), None
            return
        if self.cur is None or self.sub is None or self.sub == "mapping" or ":" not in s:
            return
        cur = self.cur
        label, _, value = s.partition(":")
        label, value = label.strip(), value.strip()
        if value == "" and self.sub == "stats":
            self.ds = label
            cur["dataspaces"][label] = {}
            cur["kind"] = "buffer"
        elif self.sub == "specs":
            cur["specs"][label] = value
            if label == "Compute energy":
                cur["kind"] = "arithmetic"
            elif label in ("Technology", "Block size"):
                cur["kind"] = "buffer"
        elif self.ds is not None and raw.startswith("        "):
            cur["dataspaces"][self.ds][label] = value
        else:
            cur["stats"][label] = value
            if label == "Computes (total)":
                cur["kind"] = "arithmetic"

    def intensity_line(self, s: str) -> None:
        m = re.match(r"^=== (.+) ===$", s)
        if m:
            self.int_level = m.group(1).strip()
            self.intensity["levels"][self.int_level] = {}
        elif ":" in s:
            label, _, value = s.partition(":")
            target = self.intensity["levels"][self.int_level] if self.int_level else self.intensity["total"]
            target[label.strip()] = value.strip()

    def summary_line(self, line: str, s: str) -> None:
        m = re.match(r"^Computes\s*=\s*(\S+)", s)
        if m:
            self.computes_line = float(m.group(1))
            return
        if s in ("fJ/Compute", "pJ/Compute"):
            self.per_compute_unit = s.split("/")[0]
            return
        m = re.match(r"^(.+?)\s*=\s*(\S+)$", s)
        if m:
            self.per_compute[m.group(1).strip()] = float(m.group(2))
            self.per_compute_bound = max(self.per_compute_bound, half_unit(m.group(2)))
            self.fj_width = line.index("=") - 4
        elif ":" in s:
            label, _, value = s.partition(":")
            self.summary[label.strip()] = value.strip()


def parse_stats_blocks(text: str, source: str = "<text>") -> dict:
    """The stats file as nested labelled blocks (strings), in file order."""
    rd = _StatsReader()
    section = None
    for raw in text.splitlines():
        line = raw.rstrip()
        s = line.strip()
        if not s or set(s) <= {"-"}:
            continue
        if s in _SECTIONS:
            section = _SECTIONS[s]
        elif section == "levels":
            rd.level_line(raw, s)
        elif section == "intensity":
            rd.intensity_line(s)
        elif section == "summary":
            rd.summary_line(line, s)
    if not rd.levels:
        raise InputError(f"{source}: no 'Buffer and Arithmetic Levels' section; is this a timeloop-model stats file?")
    per_compute = rd.per_compute
    fj_bound = rd.per_compute_bound
    if rd.per_compute_unit == "pJ":
        per_compute = {k: v * 1000.0 for k, v in per_compute.items()}
        fj_bound *= 1000.0
    return {"levels": rd.levels, "summary": rd.summary, "intensity": rd.intensity, "fJ_per_compute": per_compute,
            "computes": rd.computes_line, "source": source, "fJ_width": rd.fj_width, "fJ_bound": fj_bound}


def half_unit(text: Optional[str]) -> float:
    """Rounding error bound of a printed number: half a unit of its last decimal (``"13550.58 pJ"`` ->
    0.005); 0 for a missing value."""
    m = _NUM.match(str(text)) if text is not None else None
    if not m:
        return 0.0
    num = m.group(1)
    mant, _, exp = num.lower().partition("e")
    decimals = len(mant.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals + (int(exp) if exp else 0))


_LEVEL_ENERGY_LINES = ("Temporal Reduction Energy (total)", "Address Generation Energy (total)")


def level_energy(lv: dict, fj_per_compute: Optional[float], fj_bound: float, computes: float
                 ) -> tuple[float, float]:
    """(energy in pJ, rounding error bound) of one level of the stats blocks: its pJ lines (arithmetic:
    ``Energy (total)``; buffer: per data space ``Energy (total)`` + the two lines of
    :data:`_LEVEL_ENERGY_LINES`, + ``Leakage energy (total)``) or ``fJ/Compute x Computes``, whichever is
    the more precise."""
    if lv["kind"] == "arithmetic":
        texts = [lv["stats"].get("Energy (total)")]
    else:
        texts = [d.get(k) for d in lv["dataspaces"].values() for k in ("Energy (total)",) + _LEVEL_ENERGY_LINES]
        texts.append(lv["specs"].get("Leakage energy (total)"))
    block = sum(stat_value(t) or 0.0 for t in texts)
    block_bound = sum(half_unit(t) for t in texts)
    if fj_per_compute is not None and (fj_bound * computes / 1000.0 < block_bound or not any(texts)):
        return fj_per_compute * computes / 1000.0, fj_bound * computes / 1000.0
    return block, block_bound


def parse_stats(text_or_path: Union[str, Path], *, map_text: Optional[Union[str, Path]] = None) -> ir.Result:
    """Read a real ``timeloop-model.stats.txt`` (path or text) into an :class:`ir.Result`.

    Totals over instances: ``accesses[level][dataspace].reads = Scalar reads (per-instance) x Utilized
    instances (max)`` (likewise fills, updates); ``tile_words`` is the utilized capacity per instance.
    Level energies: :func:`level_energy` (the more precise of the pJ lines and ``fJ/Compute x Computes``);
    total energy: the ``Total`` line or the sum of the levels (and networks), the more precise.
    """
    text, source = _read_text(text_or_path)
    b = parse_stats_blocks(text, source)
    levels = b["levels"]
    arith = next((lv for lv in levels if lv["kind"] == "arithmetic"), None)
    if arith is None:
        raise InputError(f"{source}: no arithmetic level (Computes (total)) found")
    computes = b["computes"]
    if computes is None:
        computes = stat_value(arith["stats"].get("Computes (total)")) or 0.0
    summary = b["summary"]
    cycles = stat_value(summary.get("Cycles"))
    if cycles is None:
        cycles = max(stat_value(lv["stats"].get("Cycles")) or 0.0 for lv in levels)
    util = stat_value(summary.get("Utilization"))
    utilization = util / 100.0 if util is not None else 0.0
    per_compute = b["fJ_per_compute"]
    energy_per_level: dict[str, float] = {}
    bounds: dict[str, float] = {}
    accesses: dict[str, dict[str, ir.DataspaceAccesses]] = {}
    for lv in levels:
        name = lv["name"]
        energy_per_level[name], bounds[name] = level_energy(lv, per_compute.get(name), b["fJ_bound"], computes)
        if lv["kind"] == "buffer":
            accesses[name] = {}
            for dsn, d in lv["dataspaces"].items():
                inst = stat_value(d.get("Utilized instances (max)")) or 0.0
                accesses[name][dsn] = ir.DataspaceAccesses(
                    reads=(stat_value(d.get("Scalar reads (per-instance)")) or 0.0) * inst,
                    fills=(stat_value(d.get("Scalar fills (per-instance)")) or 0.0) * inst,
                    updates=(stat_value(d.get("Scalar updates (per-instance)")) or 0.0) * inst,
                    tile_words=stat_value(d.get("Utilized capacity")) or 0.0,
                )
    others = [k for k in per_compute if k != "Total" and k not in energy_per_level]      # networks
    summed = sum(energy_per_level.values()) + sum(per_compute[k] * computes / 1000.0 for k in others)
    summed_bound = sum(bounds.values()) + len(others) * b["fJ_bound"] * computes / 1000.0
    if "Total" in per_compute and b["fJ_bound"] * computes / 1000.0 < summed_bound:
        energy = per_compute["Total"] * computes / 1000.0
    elif "Total" in per_compute or summary.get("Energy") is None:
        energy = summed
    elif summary.get("Energy") is not None:
        energy = (stat_value(summary["Energy"]) or 0.0) * 1e6
    else:
        energy = sum(energy_per_level.values())
    ghz = re.search(r"@([\d.]+)GHz", " ".join(summary))
    cycle_s = 1e-9 / float(ghz.group(1)) if ghz else 1e-9
    extra: dict[str, Any] = {"levels": levels, "summary": summary, "intensity": b["intensity"],
                             "fJ_per_compute": per_compute, "source": source, "fJ_width": b["fJ_width"]}
    if map_text is not None:
        extra["map_txt"] = _read_text(map_text)[0]
    return ir.Result(energy_pJ=energy, cycles=float(cycles), computes=float(computes), utilization=utilization,
                     energy_pJ_per_level=energy_per_level, accesses=accesses, engine="timeloop",
                     cycle_seconds=cycle_s, extra=extra)


def parse_map(text_or_path: Union[str, Path]) -> list[dict]:
    """A timeloop ``.map.txt`` as a list of levels (outermost first): name, tile sizes, loops
    (dimension, bound, spatial axis or None)."""
    text, source = _read_text(text_or_path)
    out: list[dict] = []
    for raw in text.splitlines():
        s = raw.strip()
        m = re.match(r"^([^\[|]+?)\s*\[(.*)\]\s*$", s)
        if m and not s.startswith("|"):
            tiles = {k: int(v) for k, v in re.findall(r"(\S+?):(\d+)", m.group(2))}
            out.append({"name": m.group(1).strip(), "tiles": tiles, "loops": []})
            continue
        m = re.match(r"^\|\s*for (\S+) in \[0:(\d+)\)(?:\s*\(Spatial-([XY])\))?", s)
        if m and out:
            out[-1]["loops"].append((m.group(1), int(m.group(2)), m.group(3)))
    if not out:
        raise InputError(f"{source}: no levels found; is this a timeloop-model map file?")
    return out


# ---------------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------------

def _fmt_block(lines: list[str], items: dict[str, str], indent: str, width: int) -> None:
    for label, value in items.items():
        lines.append(f"{indent}{label.ljust(width)}: {value}")


def format_stats(result: ir.Result) -> str:
    """Timeloop-style ``stats.txt`` text from a Result whose ``extra`` holds the labelled blocks (the builtin
    engine's results and parsed Timeloop results both do)."""
    levels = result.extra.get("levels")
    if not levels:
        raise InputError("this result has no per-level statistics to write (extra['levels'] is empty)")
    lines = ["Buffer and Arithmetic Levels", "----------------------------"]
    for lv in levels:
        if lv["kind"] == "buffer" and not lv["dataspaces"]:
            continue                          # nothing kept here (Timeloop prints no block)
        head = f"Level {lv['index']}"
        lines += [head, "-" * len(head), f"=== {lv['name']} ===", ""]
        if lv["kind"] == "arithmetic":
            lines += ["    SPECS", "    -----"]
            _fmt_block(lines, lv["specs"], "    ", 22)
            lines += ["", "    STATS", "    -----"]
            _fmt_block(lines, lv["stats"], "    ", 24)
        else:
            lines += ["    SPECS", "    -----"]
            _fmt_block(lines, lv["specs"], "        ", 32)
            lines += ["", "    STATS", "    -----"]
            _fmt_block(lines, lv["stats"], "    ", 21)
            for dsn, d in lv["dataspaces"].items():
                lines.append(f"    {dsn}:")
                _fmt_block(lines, d, "        ", 41)
        lines.append("")
    lines += ["Networks", "--------", ""]
    inten = result.extra.get("intensity") or {}
    lines += ["Operational Intensity Stats", "---------------------------"]
    _fmt_block(lines, inten.get("total", {}), "    ", 40)
    lines.append("")
    for name, blk in (inten.get("levels") or {}).items():
        lines.append(f"=== {name} ===")
        _fmt_block(lines, blk, "    ", 40)
    lines += ["", "", "Summary Stats", "-------------"]
    for label, value in (result.extra.get("summary") or {}).items():
        lines.append(f"{label}: {value}")
    lines.append("")
    lines.append(f"Computes = {int(round(result.computes))}")
    lines.append("fJ/Compute")
    pc = result.extra.get("fJ_per_compute") or {}
    width = int(result.extra.get("fJ_width") or (max((len(k) for k in pc), default=5) + 1))
    for name, v in pc.items():
        lines.append(f"    {name.ljust(width)}= {v:.2f}")
    return "\n".join(lines) + "\n\n"


def format_map(arch: ir.Arch, problem: ir.Problem, mapping: ir.Mapping, result: Optional[ir.Result] = None) -> str:
    """Timeloop-style ``map.txt``: per storage level (outermost first) the kept tiles and the loops."""

    dims = list(problem.dims)
    tiles = {}
    if result is not None:
        for lvname, per in result.accesses.items():
            tiles[lvname] = {ds: int(a.tile_words) for ds, a in per.items()}
    lines: list[str] = []
    depth = 0
    pending_header = False
    by_name = {lm.target: lm for lm in mapping.levels}
    for lv in arch.levels:
        lm = by_name.get(lv.name) or ir.LevelMapping(target=lv.name)
        kept = tiles.get(lv.name, {})
        inner = " ".join(f"{ds}:{n} ({n})" for ds, n in kept.items())
        header = f"{lv.name} [ {inner} ] " if inner else f"{lv.name} [ ] "
        loops: list[tuple[str, int, Optional[str]]] = []
        for d in reversed(perm_list(lm.temporal_permutation, dims)):
            n = int(lm.temporal_factors.get(d, 1))
            if n > 1:
                loops.append((d, n, None))
        if lm.spatial_factors:
            sperm = perm_list(lm.spatial_permutation, dims)
            split = lm.spatial_split if lm.spatial_split is not None else len(dims)
            for i in reversed(range(len(sperm))):
                d = sperm[i]
                n = int(lm.spatial_factors.get(d, 1))
                if n > 1:
                    loops.append((d, n, "X" if i < split else "Y"))
        lines.append(header)
        if not loops:
            pending_header = True
            continue
        pending_header = False
        lines.append("-" * len(header.rstrip()))
        for d, n, axis in loops:
            lines.append("| " + "  " * depth + f"for {d} in [0:{n})" + (f" (Spatial-{axis})" if axis else ""))
            depth += 1
        if lv is not arch.levels[-1]:
            lines.append("")
    if pending_header:
        lines.append("-" * len(lines[-1].rstrip()))
    lines.append("| " + "  " * depth + "<< Compute >>")
    return "\n".join(lines) + "\n"
