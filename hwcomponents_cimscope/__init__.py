"""hwcomponents discovers this module by its ``hwcomponents_`` prefix; it re-exports every cimscope model
(CiM macros, parametric CiM arrays, Associative Processors, GPU baseline parts) as an
``hwcomponents.ComponentModel`` subclass named ``Cimscope<Component>`` (e.g. ``CimscopeCimMacro`` for
``cim_macro``). The classes are generated from the cimscope model registry by
:mod:`cimscope.plugins.hwcomponents_adapter`; ``MODELS`` lists them, for passing to hwcomponents calls
explicitly (``hwcomponents.get_models(*MODELS)``, ``models=MODELS``).
"""
from cimscope.plugins.hwcomponents_adapter import build_hwcomponents_models as _build

_CLASSES = _build(__name__)
globals().update(_CLASSES)
MODELS = [_CLASSES[k] for k in sorted(_CLASSES)]
__all__ = sorted(_CLASSES) + ["MODELS"]
