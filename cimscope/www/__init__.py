"""The ``www`` methodology: the WWW study (T. Sharma et al., "What, When, Where to Compute-in-Memory",
arXiv 2312.15896) as its artifact (github.com/tanvisharma/WWWtoCiM) evaluates it, beside cimscope's own
equal-area methodology.

Modules: ``ert`` (energy per action), ``arch`` (baseline SM and CiM hierarchies as ``ir.Arch``), ``dataflow``
(the priority-based mapping algorithm), ``latency`` (WWW's post-processing), ``methodology`` (one GEMM on one
configuration), ``grid`` (shapes x the 9 configurations, rows with ratios), ``workloads`` (the artifact's GEMM
lists), ``figures`` (the paper's figures), ``export`` (Timeloop v0.4 inputs of an evaluation). See docs/www.md.
"""
