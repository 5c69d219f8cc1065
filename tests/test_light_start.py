"""A light start: evaluating an exported workload imports neither torch nor transformers, and matplotlib
only when plots are written."""
import json
import subprocess
import sys

from cimscope import ir
from cimscope.evaluate import gemm_op
from cimscope.workloads import save_workload

SCRIPT = """
import sys
from cimscope.cli import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "transformers", "torchvision", "matplotlib") if m in sys.modules)
print("HEAVY", ",".join(heavy), rc)
"""


def run(args, tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=300,
                         env={"CIMSCOPE_CACHE": str(tmp_path / "mapper"), "PATH": "/usr/bin:/bin"})
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("HEAVY")][-1]
    _, heavy, rc = line.split(" ")
    return heavy, int(rc)


def test_exported_workload_needs_no_torch_and_plots_only_when_asked(tmp_path):
    wdir = tmp_path / "wl"
    save_workload(ir.Workload(model="tiny", ops=[gemm_op(32, 32, 32, name="fc")]), wdir)
    base = ["compare", "--workload", str(wdir), "--arch", "a100_sm", "--placements", "none,rf",
            "--primitives", "analog6T", "--workers", "1", "--cache-dir", str(tmp_path / "cache")]
    assert run(base + ["--out", str(tmp_path / "o1"), "--no-plots"], tmp_path) == ("", 0)
    assert run(["evaluate", "--workload", str(wdir), "--arch", "a100_sm", "--placement", "rf",
                "--cache-dir", str(tmp_path / "cache"), "--json"], tmp_path) == ("", 0)
    heavy, rc = run(base + ["--out", str(tmp_path / "o2")], tmp_path)
    assert rc == 0 and heavy == "matplotlib" and (tmp_path / "o2" / "edp_tiny.png").is_file()
    assert json.loads((tmp_path / "o1" / "compare.json").read_text())["configurations"]


def test_plots_drawn_once_then_copied_from_the_plot_cache(tmp_path):
    """A rerun whose plot inputs are unchanged copies the PNGs from the cache (no matplotlib import); a
    change in what the plots draw draws them again."""
    wdir = tmp_path / "wl"
    save_workload(ir.Workload(model="tiny", ops=[gemm_op(32, 32, 32, name="fc")]), wdir)
    base = ["compare", "--workload", str(wdir), "--arch", "a100_sm", "--placements", "none,rf",
            "--primitives", "analog6T", "--workers", "1", "--cache-dir", str(tmp_path / "cache")]
    assert run(base + ["--out", str(tmp_path / "o1")], tmp_path) == ("matplotlib", 0)
    assert run(base + ["--out", str(tmp_path / "o2")], tmp_path) == ("", 0)
    for name in ("edp", "latency", "energy_per_level"):
        assert (tmp_path / "o1" / f"{name}_tiny.png").read_bytes() == (tmp_path / "o2" / f"{name}_tiny.png").read_bytes()
    other = base[:-4] + ["--primitives", "digital6T"] + base[-4:]
    assert run(other + ["--out", str(tmp_path / "o3")], tmp_path) == ("matplotlib", 0)
