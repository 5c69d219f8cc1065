"""The GPU baseline execution model: SIMT NonGEMM cost, roofline (and, from other modules, execution and fusion)."""
