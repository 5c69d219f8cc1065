"""cimscope.workloads"""
