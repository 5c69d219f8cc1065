"""cimscope.arch"""
