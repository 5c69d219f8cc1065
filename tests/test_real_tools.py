"""Rules found by running the real Timeloop (NVlabs master 4cf6d4c) and Accelergy 0.4, pinned with the file
format so that they hold in CI without the binaries; the tests marked ``real`` run the binaries too when
``timeloop-model`` is in ``$TIMELOOP_BIN`` or on ``$PATH`` (skipped otherwise).
"""
import shutil
import sys

import pytest

from cimscope.model import evaluate, evaluate_many
from cimscope.model.analysis import TRANSLATION_RULE_KEY
from cimscope.timeloop import load_inputs
from cimscope.timeloop.binaries import find_binary

ARCH = """architecture:
  version: '0.4'
  subtree:
  - name: System
    attributes: {technology: "40nm", global_cycle_seconds: 1e-9}
    local:
    - name: DRAM[1..1]
      class: DRAM
      attributes: {depth: 1048576, width: 64, datawidth: 8, n_banks: 1, technology: "40nm"}
    - name: Buffer[1..1]
      class: SRAM
      attributes: {depth: 65536, width: 8, datawidth: 8, n_banks: 1, technology: "40nm"}
    - name: MACC[1..1]
      class: intmac
      attributes: {width: 8, technology: "40nm"}
"""
PROBLEM = """problem:
  version: '0.4'
  shape:
    name: CNN_Layer
    dimensions: [C, M, R, S, N, P, Q]
    coefficients:
    - {name: Wstride, default: 1}
    - {name: Hstride, default: 1}
    - {name: Wdilation, default: 1}
    - {name: Hdilation, default: 1}
    data_spaces:
    - name: Weights
      projection: [[[C]], [[M]], [[R]], [[S]]]
    - name: Inputs
      projection:
      - [[N]]
      - [[C]]
      - [[R, Wdilation], [P, Wstride]]
      - [[S, Hdilation], [Q, Hstride]]
    - name: Outputs
      projection: [[[N]], [[M]], [[Q]], [[P]]]
      read_write: true
  instance: {C: 8, M: 16, R: 3, S: 3, N: 1, P: 16, Q: 16}
"""
#: DRAM loops P4 > R3 > M4 (M innermost: it does not move Inputs), the rest in the Buffer.
MAPPING = """mapping:
- target: DRAM
  type: temporal
  factors: C=1 M=4 R=3 S=1 N=1 P=4 Q=1
  permutation: MRPCSNQ
- target: Buffer
  type: temporal
  factors: C=8 M=4 R=1 S=3 N=1 P=4 Q=16
  permutation: SCMPQRN
"""
ERT = """ERT:
  version: '0.4'
  tables:
  - name: System.DRAM[1..1]
    actions:
    - {name: read, energy: 100.0}
    - {name: write, energy: 100.0}
    - {name: update, energy: 100.0}
    - {name: leak, energy: 0.0}
  - name: System.Buffer[1..1]
    actions:
    - {name: read, energy: 1.0}
    - {name: write, energy: 1.0}
    - {name: update, energy: 1.0}
    - {name: leak, energy: 0.0}
  - name: System.MACC[1..1]
    actions:
    - {name: compute, energy: 0.5}
"""


def _case(tmp_path):
    paths = []
    for name, text in (("arch.yaml", ARCH), ("problem.yaml", PROBLEM), ("map.yaml", MAPPING), ("ERT.yaml", ERT)):
        p = tmp_path / name
        p.write_text(text)
        paths.append(p)
    return paths


def test_sliding_window_after_a_stationary_step_reuses_the_overlap(tmp_path):
    """Inputs tile 8 x 4 x 18 = 576 words; the M steps leave it in place, each R move (+1 column) fetches a
    144-word slab, each P move (+3 columns: a new translation) the whole tile: 576 x (1 + 3) + 144 x (2 + 6) =
    3,456 fills, 5.751 pJ/compute, as real timeloop-model 4cf6d4c prints for these files. Timeloop before PR
    #297 re-fetched the whole tile after every M step: 576 x 12 = 6,912."""
    *files, ert = _case(tmp_path)
    ti = load_inputs(files, ert=ert)
    r = evaluate(ti.problem, ti.arch, ti.mapping)
    assert r.accesses["Buffer"]["Inputs"].fills == 3456
    assert r.accesses["DRAM"]["Inputs"].reads == 3456
    assert r.energy_pJ / r.computes == pytest.approx(5.751, abs=5e-4)
    fast = evaluate_many(ti.problem, ti.arch, [ti.mapping])
    assert float(fast["energy_pJ"][0]) == pytest.approx(r.energy_pJ, rel=1e-12)
    ti.arch.attributes[TRANSLATION_RULE_KEY] = "pre-pr297"
    assert evaluate(ti.problem, ti.arch, ti.mapping).accesses["Buffer"]["Inputs"].fills == 6912


real = pytest.mark.skipif(find_binary("timeloop-model") is None, reason="timeloop-model not on PATH/TIMELOOP_BIN")


@real
def test_real_timeloop_model_agrees_on_the_sliding_window_case(tmp_path):
    from cimscope.engine import get_engine

    *files, ert = _case(tmp_path)
    ti = load_inputs(files, ert=ert)
    tl = get_engine("timeloop", out_dir=str(tmp_path / "tl")).evaluate(ti.problem, ti.arch, ti.mapping)
    bi = evaluate(ti.problem, ti.arch, ti.mapping)
    assert tl.accesses["Buffer"]["Inputs"].fills == bi.accesses["Buffer"]["Inputs"].fills == 3456
    assert tl.cycles == bi.cycles
    assert tl.energy_pJ == pytest.approx(bi.energy_pJ, rel=1e-6)
    shutil.rmtree(tmp_path / "tl", ignore_errors=True)


def test_bandwidth_bound_cycles_follow_timeloops_double_arithmetic():
    """ResNet-18 layer4 BatchNorm on a100_sm (DRAM read_bandwidth 32 words/cycle, 224 compute cycles, reads
    25,088 + 512 + 512 per data space): Timeloop sums 112 + 2.2857... + 2.2857... words/cycle in double
    precision, 32 / 116.571... = 0.27450980392156865, and ceil(224 / that) = ceil(816.0000000000001) = 817,
    what real timeloop-model 4cf6d4c prints; the exact quotient (26,112 / 32 = 816) is one cycle short."""
    from types import SimpleNamespace

    from cimscope.model.cost import bandwidth_slowdown, level_cycles

    dram = SimpleNamespace(read_bandwidth=32.0, write_bandwidth=32.0, shared_bandwidth=None)
    slow = bandwidth_slowdown(dram, [25088.0, 512.0, 512.0], [25088.0], 224)
    assert slow == 32 / (25088 / 224 + 512 / 224 + 512 / 224)
    assert level_cycles(224, slow) == 817
    assert level_cycles(224, bandwidth_slowdown(dram, 26112.0, 25088.0, 224)) == 816     # one total: exact


@pytest.mark.skipif(find_binary("timeloop-model") is None or shutil.which("accelergy") is None,
                    reason="timeloop-model and accelergy not both on PATH")
def test_real_timeloop_with_accelergy_prices_as_cimscope_model_without_ert(tmp_path):
    """a100_like written by cimscope (compound classes, required_actions) with no ERT: timeloop-model calls
    Accelergy 0.4 with the cimscope plug-in; `cimscope model` without --ert on the same files gives the same
    energy (Accelergy's 6 digits) and cycles."""
    import json
    import subprocess
    from pathlib import Path

    from cimscope.arch import build_arch
    from cimscope.arch.builders import compound_components
    from cimscope.cli import main
    from cimscope.timeloop.binaries import architecture_doc, dump_yaml
    from cimscope.timeloop.stats import parse_stats

    share = Path(shutil.which("accelergy")).resolve().parents[1] / "share" / "accelergy" / "estimation_plug_ins"
    plugin = Path(__file__).resolve().parents[1] / "plugins" / "accelergy_plugin.py"
    (tmp_path / "accelergy_config.yaml").write_text(
        f"version: 0.4\nestimator_plug_ins: [{share}]\nprimitive_components: []\ncompound_components: []\n"
        f"math_functions: []\npython_plug_ins: [{plugin}]\ntable_plug_ins: {{roots: []}}\n")
    (tmp_path / "arch.yaml").write_text(dump_yaml(architecture_doc(build_arch("a100_like"))))
    (tmp_path / "components.yaml").write_text(dump_yaml(compound_components()))
    (tmp_path / "problem.yaml").write_text(
        "problem:\n  version: '0.4'\n  shape:\n    name: GEMM\n    dimensions: [M, N, K]\n    data_spaces:\n"
        "    - {name: Inputs, projection: [[[M]], [[K]]]}\n    - {name: Weights, projection: [[[K]], [[N]]]}\n"
        "    - {name: Outputs, projection: [[[M]], [[N]]], read_write: true}\n  instance: {M: 256, N: 256, K: 256}\n")
    files = [str(tmp_path / f) for f in ("arch.yaml", "components.yaml", "problem.yaml")]
    assert main(["mapper", *files, "--max-evaluations", "500", "--out", str(tmp_path / "m")]) == 0
    files.append(str(tmp_path / "m" / "timeloop-mapper.map.yaml"))
    subprocess.run([find_binary("timeloop-model"), *files], cwd=tmp_path, check=True, capture_output=True)
    real = parse_stats(tmp_path / "timeloop-model.stats.txt")
    out = subprocess.run([sys.executable, "-m", "cimscope", "model", *files, "--json"], capture_output=True,
                         text=True, check=True)
    ours = json.loads(out.stdout)
    assert ours["cycles"] == real.cycles
    assert ours["energy_pJ"] == pytest.approx(real.energy_pJ, rel=1e-5)
    for level, e in real.energy_pJ_per_level.items():
        assert ours["energy_pJ_per_level"][level] == pytest.approx(e, rel=1e-5, abs=1e-3), level
