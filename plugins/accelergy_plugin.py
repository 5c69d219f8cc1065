"""Accelergy v0.4 Python plug-in file for cimscope: list THIS FILE under ``python_plug_ins`` in
accelergy_config.yaml (``cimscope estimate --accelergy-config`` prints the exact lines), or point
``estimator_plug_ins`` at this folder, whose ``cimscope.estimator.yaml`` names this file.

Accelergy loads it as a module named ``python_plug_in`` and takes every ``Estimator`` subclass defined in it;
the classes are generated here, under this module's own name, from the cimscope model registry
(:mod:`cimscope.plugins.accelergy_adapter`). Do not point Accelergy at the whole package folder as a
``python_plug_ins`` entry: that would load every model module a second time.
"""
from cimscope.plugins.accelergy_adapter import build_accelergy_estimators as _build

_CLASSES = _build(__name__)
globals().update(_CLASSES)
__all__ = sorted(_CLASSES)
