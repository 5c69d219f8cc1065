"""Refuse Sparseloop inputs: cimscope models dense Timeloop only, so an input that carries a sparse feature would
come out wrong without notice. Refused, each by name: a problem density below 1 (``instance.densities``), and
``sparse_optimizations`` (top-level targets or on a node) with a representation format (compressed formats),
action optimizations (skipping/gating) or compute optimizations. Metadata attributes alone are Accelergy
attributes and change nothing in the dense model.
"""
from __future__ import annotations

from typing import Any

from cimscope.errors import InputError

PREFIX = "sparse (Sparseloop) feature not modelled:"
_FEATURES = {"representation_format": "compressed representation format",
             "action_optimization": "skipping/gating action optimization",
             "compute_optimization": "compute optimization (skipping/gating)"}


def _nonempty(x: Any) -> bool:
    if isinstance(x, dict):
        return any(_nonempty(v) for v in x.values())
    if isinstance(x, list):
        return any(_nonempty(v) for v in x)
    return x is not None and x != ""


def _check_opts(opts: Any, where: str) -> None:
    if not isinstance(opts, dict):
        return
    for key, feature in _FEATURES.items():
        if _nonempty(opts.get(key)):
            raise InputError(f"{PREFIX} {feature} ({where}.{key}); cimscope models dense Timeloop only, remove "
                             f"the sparse optimizations or run Sparseloop")


def check_densities(instance: Any, where: str = "problem.instance") -> None:
    dens = instance.get("densities") if isinstance(instance, dict) else None
    if not dens:
        return
    if not isinstance(dens, dict):
        raise InputError(f"{where}.densities: expected a mapping of data space -> density, found {dens!r}")
    for ds, d in dens.items():
        value = d.get("density", 1) if isinstance(d, dict) else d
        try:
            dense = float(value) >= 1
        except (TypeError, ValueError):
            dense = False
        if not dense:
            raise InputError(f"{PREFIX} density {value!r} of data space {ds} ({where}.densities.{ds}); cimscope "
                             f"models dense Timeloop only (density 1)")


def check_sparse(spec: dict, leaves: list[dict]) -> None:
    """Raise InputError (message starting with :data:`PREFIX`) if the specification uses a Sparseloop feature."""
    check_densities((spec.get("problem") or {}).get("instance"))
    so = spec.get("sparse_optimizations") or {}
    for i, t in enumerate((so.get("targets") or []) if isinstance(so, dict) else []):
        _check_opts(t, f"sparse_optimizations.targets[{i}] (target {t.get('target', '?') if isinstance(t, dict) else '?'})")
    for leaf in leaves:
        _check_opts(leaf.get("sparse_optimizations"), f"architecture: {leaf.get('name', '?')}.sparse_optimizations")
