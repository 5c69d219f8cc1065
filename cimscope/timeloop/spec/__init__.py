"""timeloopfe v0.4 source files (Jinja2 top files, variables and expressions, !Container/!Component trees with
constraints) read the way timeloopfe reads them, into the processed v0.4 document Timeloop reads.
See docs/timeloopfe.md."""
from cimscope.timeloop.spec.frontend import is_source_spec, load_sources, process_spec

__all__ = ["is_source_spec", "load_sources", "process_spec"]
