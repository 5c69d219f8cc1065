"""hwcomponents discovers this module by its hwcomponents_ prefix; it re-exports cimscope models."""
