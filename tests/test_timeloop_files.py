"""What cimscope writes for real Timeloop v0.4 and Accelergy 0.4, pinned rule by rule with the file formats.

Rules (sources: NVlabs/timeloop master, Accelergy-Project/accelergy master):
* a component's role is decided by substrings of its class, storage first (include/model/topology.hpp
  bufferClasses = DRAM, SRAM, regfile, smartbuffer, storage; computeClasses = mac, intmac, fpmac, compute); any
  other class is dropped without a word (src/model/topology.cpp ParseTreeSpecs);
* Accelergy 0.4 evaluates an unquoted string attribute (7nm, analog6T) as a Python expression; only quoted
  scalars stay strings (accelergy/parsing_utils.py is_quoted_string);
* timeloop-mapper: `timeout` = consecutive invalid mappings before a thread stops (0: at the first one),
  `victory_condition`, `search_size`; with no valid mapping it exits 0 and writes empty output files
  (src/applications/mapper/main.cpp); SIGINT stops the search and writes the best mapping so far.
"""
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from cimscope.arch import place
from cimscope.arch.builders import (PRESET_DIR, STORAGE_COMPONENTS, compound_class, compound_components,
                                    timeloop_class, timeloop_role)
from cimscope.errors import EngineError, InputError
from cimscope.ir import Op, Tensor, Workload
from cimscope.timeloop.binaries import (architecture_doc, dump_yaml, run_binary, timeloop_class_problems,
                                        write_inputs)

ROOT = Path(__file__).resolve().parents[1]
CASES = [("a100_like", p) for p in ("none", "rf", "smem", "l2")] + [("a100_sm", p) for p in ("none", "rf", "smem")]


def unquoted_attribute_strings(text: str) -> list[str]:
    """Plain (unquoted) string scalars under any ``attributes`` key: what Accelergy 0.4 would evaluate."""
    bad: list[str] = []

    def walk(node, inside=False):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(v, inside or k.value == "attributes")
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                walk(v, inside)
        elif inside and node.tag == "tag:yaml.org,2002:str" and node.style is None:
            bad.append(node.value)

    for doc in yaml.compose_all(text, Loader=yaml.SafeLoader):
        walk(doc)
    return bad


def test_timeloop_roles_follow_the_substring_rule():
    for cls in ("DRAM", "SRAM", "regfile", "smartbuffer_RF", "dummy_storage", "hbm_DRAM", "sram_buffer_storage",
                "cim_buffer_storage", "cim_storage"):
        assert timeloop_role(cls) == "storage", cls
    for cls in ("intmac", "fpmac", "tensor_core_mac", "cim_mac", "cim_macro"):
        assert timeloop_role(cls) == "compute", cls
    for cls in ("cim_buffer", "sram_buffer", "hbm", "dram", "register", "simt_lane"):
        assert timeloop_role(cls) is None, cls          # Timeloop would drop these levels
    assert timeloop_role("XY_NoC") == "network"
    assert timeloop_class("cim_buffer") == "cim_buffer_storage"
    assert timeloop_class("sram_buffer") == "sram_buffer_storage" and timeloop_class("hbm") == "hbm_DRAM"
    assert timeloop_class("DRAM") == "DRAM" and timeloop_class("simt_lane", compute=True) == "simt_lane_compute"
    with pytest.raises(InputError, match="storage marker"):
        timeloop_class("storage_mac", compute=True)


@pytest.mark.parametrize("arch,placement", CASES)
def test_every_preset_and_placement_is_written_with_classes_timeloop_reads(arch, placement):
    pa = place(arch, placement, None if placement == "none" else "analog6T")
    doc = architecture_doc(pa.gemm)
    assert timeloop_class_problems(doc) == []
    local = doc["architecture"]["subtree"][0]["local"]
    assert [c["name"].split("[")[0] for c in local] == [lv.name for lv in pa.gemm.levels] + [pa.gemm.compute.name]
    assert "DRAM" in local[0]["class"]                 # off-chip memory stays DRAM to Timeloop (no reduction)
    assert unquoted_attribute_strings(dump_yaml(doc)) == []
    # cimscope's own reader sees the same levels and numbers
    from cimscope.timeloop.yaml_io import arch_from_yaml
    back = arch_from_yaml(yaml.safe_load(dump_yaml(doc))["architecture"])
    assert [lv.depth for lv in back.levels] == [lv.depth for lv in pa.gemm.levels]
    assert back.technology == pa.gemm.technology


def test_class_check_names_dropped_levels():
    doc = {"architecture": {"subtree": [{"name": "s", "local": [
        {"name": "Buf", "class": "sram_buffer"}, {"name": "MAC", "class": "intmac"}]}]}}
    assert timeloop_class_problems(doc) == ["Buf: class 'sram_buffer' is dropped to Timeloop, not storage"]


@pytest.mark.parametrize("preset", ["a100_like", "a100_sm"])
def test_presets_quote_their_strings_and_use_timeloop_classes(preset):
    text = (PRESET_DIR / f"{preset}.yaml").read_text()
    arch_text = text[text.index("architecture:"):text.index("\ncimscope:") if "\ncimscope:" in text else None]
    assert unquoted_attribute_strings(arch_text.split("\nERT:")[0]) == []
    from cimscope.timeloop.yaml_io import _collect_components  # noqa: PLC2701 (reader internals, test only)
    comps = _collect_components(yaml.safe_load(text)["architecture"], preset)
    assert [timeloop_role(c.cls) for c in comps] == ["storage"] * (len(comps) - 1) + ["compute"]


def test_unquoted_strings_are_what_accelergy_would_evaluate():
    assert unquoted_attribute_strings("a: {attributes: {technology: 7nm, primitive: analog6T, n: 3}}") == \
        ["7nm", "analog6T"]
    assert unquoted_attribute_strings('a: {attributes: {technology: "7nm", x: \'y\', n: 3, b: true}}') == []


def test_compound_components_wrap_the_storage_plug_ins():
    from cimscope.plugins.base import estimate
    doc = compound_components()["compound_components"]
    assert doc["version"] == "0.4"
    names = [c["name"] for c in doc["classes"]]
    assert names == [compound_class(c) for c in STORAGE_COMPONENTS]
    assert {"sram_buffer_storage", "register_storage", "cim_macro_storage", "dram_DRAM", "hbm_DRAM"} == set(names)
    for cls in doc["classes"]:
        assert timeloop_role(cls["name"]) == "storage"
        (sub,) = cls["subcomponents"]
        acts = {a["name"]: a["subcomponents"][0]["actions"][0]["name"] for a in cls["actions"]}
        assert set(acts) == {"read", "write", "update", "leak"}
        attrs = {"primitive": "analog6T"} if sub["class"] == "cim_macro" else {}
        assert set(acts.values()) <= set(estimate(sub["class"], attrs).actions)


def test_compound_components_bind_every_attribute_the_plug_in_takes():
    """Accelergy 0.4 hands a subcomponent only the attributes its own ``attributes`` bind (real Accelergy 0.4
    gave sram_buffer no depth/width/n_banks with ``attributes: {}`` and priced a 192 KB SMEM as a 4 KB
    buffer); the bindings are bare names Accelergy evaluates, declared on the class with a null default."""
    from cimscope.arch.builders import bound_attributes
    text = dump_yaml(compound_components())
    doc = yaml.safe_load(text)["compound_components"]
    for cls in doc["classes"]:
        (sub,) = cls["subcomponents"]
        names = bound_attributes(sub["class"])
        assert sub["attributes"] == {n: n for n in names}
        assert "technology" in names
        if sub["class"] != "cim_macro":                 # the memories take Timeloop's width (bits per row)
            assert "width" in names
        if sub["class"] == "sram_buffer":
            assert {"depth", "n_banks"} <= set(names)
        assert set(names) <= set(cls["attributes"])
        assert cls["attributes"]["technology"] == "must_specify"
        assert all(cls["attributes"][n] is None for n in names if n != "technology")
    plain = unquoted_attribute_strings(text)            # the bindings must not be quoted (quoted = a literal)
    assert "depth" in plain and "must_specify" in plain


def test_every_component_says_which_actions_accelergy_prices():
    """timeloop-model hands Accelergy the architecture as written: a primitive class with no class definition
    (tensor_core_mac) gets an ERT row only for its ``required_actions`` (as timeloopfe writes them); without
    them real timeloop-model charged its internal 1 pJ per MAC instead of the plug-in's 0.0146 pJ."""
    from cimscope.arch import build_arch
    from cimscope.arch.builders import REQUIRED_ACTIONS
    for preset in ("a100_like", "a100_sm"):
        doc = yaml.safe_load(dump_yaml(architecture_doc(build_arch(preset))))["architecture"]
        local = doc["subtree"][0]["local"]
        assert [c["required_actions"] for c in local] == \
            [REQUIRED_ACTIONS["storage"]] * (len(local) - 1) + [REQUIRED_ACTIONS["compute"]]


def test_inputs_without_energies_come_with_the_compound_components(tmp_path):
    from cimscope.arch import build_arch
    from cimscope.timeloop.yaml_io import problem_from_yaml
    from cimscope.workloads.problem import op_to_problem
    arch = build_arch("a100_like")
    for lv in arch.levels + [arch.compute]:
        lv.action_energy_pJ = {}
    problem = problem_from_yaml(op_to_problem(_gemm())["problem"])
    names = [p.name for p in write_inputs(tmp_path, arch, problem)]
    assert "components.yaml" in names and "ERT.yaml" not in names


# ---- timeloop-mapper ---------------------------------------------------------------------------------------

REAL_MAPPER_KEYS = {"version", "optimization_metric", "optimization_metrics", "num_threads", "search_size",
                    "timeout", "victory_condition", "sync_interval", "log_interval", "algorithm",
                    "max_permutations_per_if_visit", "filter_revisits", "live_status", "diagnostics",
                    "log_suboptimal", "log_stats", "penalize_consecutive_bypass_fails", "emit_whoop_nest",
                    "max_temporal_loops_in_a_mapping", "out_prefix"}


def test_mapper_spec_has_real_keys_and_search_limits():
    from cimscope.mappers.timeloop_mapper import mapper_config
    from cimscope.mappers.search import DEFAULT_MAX_EVALUATIONS
    free = mapper_config("edp", None, None, 0)["mapper"]
    assert set(free) <= REAL_MAPPER_KEYS
    assert free["timeout"] > 0 and free["victory_condition"] > 0
    # without a budget: the builtin mapper's default count (timeout + victory alone ran > 12 min on a100_like)
    assert free["search_size"] == DEFAULT_MAX_EVALUATIONS == 20000
    timed = mapper_config("edp", 40.0, None, 0)["mapper"]
    assert "search_size" not in timed                      # the budget (SIGINT) is the limit
    assert free["algorithm"] in ("random", "exhaustive", "linear_pruned", "hybrid", "random_pruned")
    sized = mapper_config("delay", 30.0, 200, 0)["mapper"]
    assert sized["search_size"] == 200 and sized["victory_condition"] == 0 and sized["timeout"] > 0
    assert sized["optimization_metrics"] == ["delay", "energy"]
    with pytest.raises(InputError, match="max_evaluations"):
        mapper_config("edp", None, 0, 0)


EMPTY_MAPPER = """#!{python}
# what real timeloop-mapper does when it finds no valid mapping: a message, empty output files, exit 0
from pathlib import Path
print("MESSAGE: no valid mappings found within search criteria.")
for suffix in ("stats.txt", "map.txt", "map.yaml", "map+stats.xml"):
    Path("timeloop-mapper." + suffix).write_text("")
"""

SIGINT_MAPPER = """#!{python}
# searches until SIGINT, then writes its outputs and exits 0 (as timeloop-mapper's signal handler does)
import signal, time
from pathlib import Path
stop = []
signal.signal(signal.SIGINT, lambda *a: stop.append(1))
while not stop:
    time.sleep(0.05)
Path("done.txt").write_text("interrupted")
"""


def _fake(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    p = bin_dir / name
    p.write_text(body.format(python=sys.executable))
    p.chmod(0o755)


def _gemm(name="linear", m=16, k=32, n=8):
    return Op(name=name, target="aten.mm.default", module=name, op_class="GEMM", kind="gemm",
              dims={"M": m, "K": k, "N": n},
              tensors=[Tensor("Inputs", "input", [[("M", 1)], [("K", 1)]], 8),
                       Tensor("Weights", "weight", [[("K", 1)], [("N", 1)]], 8),
                       Tensor("Outputs", "output", [[("M", 1)], [("N", 1)]], 8, True)],
              macs=m * k * n)


def test_no_valid_mapping_is_one_clear_line(tmp_path, monkeypatch):
    from cimscope.arch import build_arch
    from cimscope.mappers.timeloop_mapper import run_mapper
    from cimscope.timeloop.yaml_io import problem_from_yaml
    from cimscope.workloads.problem import op_to_problem
    _fake(tmp_path / "bin", "timeloop-mapper", EMPTY_MAPPER)
    monkeypatch.setenv("TIMELOOP_BIN", str(tmp_path / "bin"))
    problem = problem_from_yaml(op_to_problem(_gemm())["problem"])
    problem.name = "linear"
    with pytest.raises(EngineError) as info:
        run_mapper(problem, build_arch("a100_sm"), out_dir=tmp_path / "run")
    msg = str(info.value)
    assert "\n" not in msg and "found no valid mapping for linear on a100_sm" in msg
    assert "timeout 15000 invalid in a row" in msg and "empty" not in msg


def test_budget_interrupts_the_search_and_keeps_its_outputs(tmp_path, monkeypatch):
    _fake(tmp_path / "bin", "timeloop-mapper", SIGINT_MAPPER)
    monkeypatch.setenv("TIMELOOP_BIN", str(tmp_path / "bin"))
    proc = run_binary("timeloop-mapper", [], tmp_path / "run", timeout_s=30, interrupt_after_s=0.5)
    assert proc.returncode == 0 and (tmp_path / "run" / "done.txt").read_text() == "interrupted"


# ---- the runner script on an export folder ------------------------------------------------------------------

def _export(folder: Path) -> None:
    from cimscope.workloads.problem import write_problems
    bn = Op(name="bn", target="aten._native_batch_norm_legit_no_training.default", module="bn",
            op_class="normalization", kind="norm", dims={"N": 1, "C": 8, "X": 16},
            tensors=[Tensor("Inputs", "input", [[("N", 1)], [("C", 1)], [("X", 1)]], 8)]
            + [Tensor(f"Inputs{i}", "input", [[("C", 1)]], 8) for i in range(2, 6)]
            + [Tensor("Outputs", "output", [[("N", 1)], [("C", 1)], [("X", 1)]], 8, True)],
            elem_ops=256, ops_per_element=2.0, bytes_read=160, bytes_written=128)
    write_problems(Workload(model="tiny", batch=1, ops=[_gemm(), bn]), folder / "problems")


def _runner(folder: Path, *args: str):
    import subprocess
    return subprocess.run(["bash", str(ROOT / "scripts" / "run_timeloop_model.sh"), str(folder),
                           "--max-evaluations", "100", *args],
                          capture_output=True, text=True, env={**os.environ, "CIMSCOPE_PYTHON": sys.executable})


def test_runner_writes_a_default_arch_and_runs_an_export_folder(standin_binaries, tmp_path):
    folder = tmp_path / "export"
    _export(folder)
    out = _runner(folder)
    assert out.returncode == 0, out.stderr
    assert "wrote preset a100_sm as arch.yaml, ERT.yaml, ART.yaml" in out.stderr
    arch_doc = yaml.safe_load((folder / "arch.yaml").read_text())
    assert timeloop_class_problems(arch_doc) == []
    assert unquoted_attribute_strings((folder / "arch.yaml").read_text()) == []
    rows = (folder / "timeloop" / "summary.csv").read_text().splitlines()[1:]
    assert len(rows) == 2
    for row in rows:
        ratio = float(row.split(",")[3])
        assert ratio == pytest.approx(1.0, rel=1e-5)


def test_runner_prices_an_architecture_without_ert_as_cimscope_model_does(standin_binaries, tmp_path):
    """An arch.yaml with cimscope's compound classes and no ERT: each level is priced by its plug-in with the
    attributes Accelergy would pass, one 'priced LEVEL with COMPONENT {...}' line each, as `cimscope model`."""
    from cimscope.arch import build_arch
    folder = tmp_path / "export"
    _export(folder)
    arch = build_arch("a100_like")
    (folder / "arch.yaml").write_text(dump_yaml(architecture_doc(arch)))
    out = _runner(folder)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("priced ")]
    assert [ln.split()[1] for ln in lines] == [lv.name for lv in arch.levels] + [arch.compute.name]
    assert "priced SMEM with sram_buffer {'capacity_bytes': 196608, 'width_bits': 1024, 'banks': 32" in out.stderr


def test_runner_goes_on_past_a_failing_problem_and_exits_1(standin_binaries, tmp_path):
    folder = tmp_path / "export"
    _export(folder)
    bad = folder / "problems" / "009-broken.yaml"
    bad.write_text(textwrap.dedent("""\
        problem:
          version: '0.4'
          shape: {name: X, dimensions: [M], data_spaces: [{name: Outputs, projection: [[[Q]]], read_write: true}]}
          instance: {M: 4}
        """))
    out = _runner(folder)
    assert out.returncode == 1, out.stderr
    assert "1 of 3 problems failed:" in out.stderr and "009-broken.yaml:" in out.stderr
    assert len((folder / "timeloop" / "summary.csv").read_text().splitlines()) == 3


def test_runner_unknown_preset_is_one_line_exit_2(standin_binaries, tmp_path):
    folder = tmp_path / "export"
    _export(folder)
    out = _runner(folder, "--preset", "a100_huge")
    assert out.returncode == 2
    assert "a100_huge" in out.stderr and "a100_like" in out.stderr and "Traceback" not in out.stderr
