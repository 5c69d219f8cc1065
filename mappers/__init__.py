"""cimscope.mappers"""
