"""cimscope: what kind of compute-in-memory to use, when it pays off, and where in the hierarchy to put it."""
__version__ = "0.1.0"
