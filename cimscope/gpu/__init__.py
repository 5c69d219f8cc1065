"""GPU baseline execution model: SIMT NonGEMM cost (simt), roofline, kernel launch/dispatch (execution), fusion."""
