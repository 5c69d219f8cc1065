"""cimscope.arch: architecture presets (Timeloop v0.4 YAML in ``presets/``) and their builders.

* ``a100_like`` (the whole A100: HBM2 -> L2 -> 108 SMs x {SMEM/L1 -> 4 x {RF -> tensor core}}, 7 nm,
  1.41 GHz) and ``a100_sm`` (the WWW tensor-core-like SM, 45 nm, 1 GHz): :func:`build_arch`;
* CiM placements ``none``/``rf``/``smem``/``l2`` with the four WWW primitives: :func:`place`;
* ``bf_imna``: the bit-fluid Associative-Processor accelerator (:mod:`cimscope.arch.bf_imna`, its own format).
"""
from __future__ import annotations

from pathlib import Path

from cimscope.arch.builders import ARCHS, available_archs, build_arch, load_preset, preset_path  # noqa: F401
from cimscope.arch.placements import (PLACEMENTS, PRIMITIVES, CimPlacement, CimPrimitive,  # noqa: F401
                                      PlacedArch, equal_area_arrays, place, valid_placements)

#: Every preset file shipped (the GPU hierarchies above, plus bf_imna when present).
PRESETS: tuple[str, ...] = tuple(sorted(p.stem for p in (Path(__file__).parent / "presets").glob("*.yaml")))

__all__ = ["ARCHS", "PRESETS", "PLACEMENTS", "PRIMITIVES", "available_archs", "build_arch", "load_preset",
           "preset_path", "place", "valid_placements", "equal_area_arrays", "CimPlacement", "CimPrimitive",
           "PlacedArch"]
