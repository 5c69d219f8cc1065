"""GPU baseline execution model: tensor cores, SIMT NonGEMM cost, launch/dispatch, fusion, roofline."""
