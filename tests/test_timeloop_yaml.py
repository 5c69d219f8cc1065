"""Timeloop v0.4 YAML: flattened and hierarchical architectures, problems, mappings, constraints, ERT/ART,
writers that round-trip, and errors that name the file and the problem."""
from pathlib import Path

import pytest
import yaml

from cimscope.errors import InputError, MappingError
from cimscope.model import evaluate
from cimscope.timeloop import (arch_to_yaml, inputs_to_yaml, load_art, load_ert, load_inputs, mapping_to_yaml,
                               problem_to_yaml)
from cimscope.timeloop.ert import arch_to_ert, ert_table
from cimscope.timeloop.parsing import parse_factors, parse_name, split_dims
from refpaths import REFERENCE

REF = REFERENCE / "timeloop_cases"
KP = REF / "04-conv1d+oc-3levelspatial-kp"
needs_ref = pytest.mark.skipif(not KP.exists(), reason="reference Timeloop runs not available")

HIER = """
architecture:
  version: 0.4
  subtree:
    - name: System
      attributes: {technology: 40nm, global_cycle_seconds: 1e-9}
      local:
        - name: MainMemory
          class: DRAM
          attributes: {width: 256, datawidth: 8}
        - name: GlobalBuffer
          class: SRAM
          attributes: {depth: 32768, width: 64, datawidth: 8}
        - name: inter_PE_spatial
          class: dummy_storage
          attributes: {depth: 1, width: 1, datawidth: 1}
      subtree:
        - name: PE[0..15]
          attributes: {meshX: 16}
          local:
            - name: RegisterFile
              class: regfile
              attributes: {depth: 64, width: 8, datawidth: 8}
            - name: MACC
              class: intmac
              attributes: {width: 8}
"""

NODES = """
architecture:
  nodes:
  - !Container {name: System, attributes: {technology: 40nm, global_cycle_seconds: 1e-9}}
  - !Component {name: MainMemory, class: DRAM, attributes: {width: 256, datawidth: 8}}
  - !Component {name: GlobalBuffer, class: SRAM, attributes: {depth: 32768, width: 64, datawidth: 8}}
  - !Component {name: inter_PE_spatial, class: dummy_storage, attributes: {depth: 1, width: 1, datawidth: 1}}
  - !Container {name: PE, spatial: {meshX: 16}}
  - !Component {name: RegisterFile, class: regfile, attributes: {depth: 64, width: 8, datawidth: 8}}
  - !Component {name: MACC, class: intmac, attributes: {width: 8}}
"""


def _shape(arch):
    return [(lv.name, lv.cls, lv.instances, lv.mesh_x, lv.mesh_y, lv.depth, lv.block_size, lv.word_bits)
            for lv in arch.levels] + [(arch.compute.name, arch.compute.instances, arch.compute.mesh_x)]


@needs_ref
@pytest.mark.parametrize("form", [HIER, NODES])
def test_hierarchical_and_nodes_forms_equal_the_flattened_one(tmp_path, form):
    flat = load_inputs([KP / "parsed-processed-input.yaml", KP / "timeloop-model.ERT.yaml"])
    raw = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    (tmp_path / "arch.yaml").write_text(form)
    (tmp_path / "rest.yaml").write_text(yaml.safe_dump({"problem": raw["problem"], "mapping": raw["mapping"]}))
    hier = load_inputs([tmp_path / "arch.yaml", tmp_path / "rest.yaml", KP / "timeloop-model.ERT.yaml"])
    assert _shape(hier.arch) == _shape(flat.arch)
    assert hier.arch.levels[3].instances == 16 and hier.arch.compute.instances == 16
    a = evaluate(flat.problem, flat.arch, flat.mapping)
    b = evaluate(hier.problem, hier.arch, hier.mapping)
    assert a.energy_pJ == pytest.approx(b.energy_pJ) and a.cycles == b.cycles


@needs_ref
def test_writers_round_trip(tmp_path):
    ti = load_inputs([KP / "parsed-processed-input.yaml", KP / "timeloop-model.ERT.yaml", KP / "timeloop-model.ART.yaml"])
    doc = inputs_to_yaml(ti.arch, ti.problem, ti.mapping)
    doc.update(arch_to_ert(ti.arch))
    p = tmp_path / "all.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    again = load_inputs([p])
    assert _shape(again.arch) == _shape(ti.arch)
    assert [t.projection for t in again.problem.dataspaces] == [t.projection for t in ti.problem.dataspaces]
    r1 = evaluate(ti.problem, ti.arch, ti.mapping)
    r2 = evaluate(again.problem, again.arch, again.mapping)
    assert r2.energy_pJ == pytest.approx(r1.energy_pJ) and r2.cycles == r1.cycles
    # the pieces are plain data of the documented shapes
    assert "subtree" in arch_to_yaml(ti.arch)
    assert set(problem_to_yaml(ti.problem)) == {"version", "shape", "instance"}
    m = mapping_to_yaml(ti.mapping, ti.problem)
    assert isinstance(m, list) and {"bypass", "temporal", "spatial"} == {d["type"] for d in m}


@needs_ref
def test_ert_and_art_fill_levels():
    ti = load_inputs([KP / "parsed-processed-input.yaml"])
    assert ti.arch.level("GlobalBuffer").action_energy_pJ == {}
    table = load_ert(KP / "timeloop-model.ERT.yaml", ti.arch)
    assert table["GlobalBuffer"]["read"] == 43.3531
    assert ti.arch.level("GlobalBuffer").action_energy_pJ["write"] == 30.8783
    assert ti.arch.compute.action_energy_pJ == {"compute": 0.845}
    load_art(KP / "timeloop-model.ART.yaml", ti.arch)
    assert ti.arch.level("RegisterFile").area_um2 == 845.98


def test_ert_names_with_ranges_and_argument_variants():
    t = ert_table({"tables": [
        {"name": "sys.chip.PE[0..15].RF", "actions": [{"name": "read", "arguments": {"data_delta": 0}, "energy": 1.0},
                                                      {"name": "read", "arguments": {"data_delta": 1}, "energy": 2.5}]},
        {"name": "sys.DRAM[1..1]", "actions": [{"name": "read", "energy": 7}]}]})
    assert t == {"RF": {"read": 2.5}, "DRAM": {"read": 7.0}}


def test_small_parsers():
    assert parse_name("RegisterFile[1..16]") == ("RegisterFile", 16)
    assert parse_name("PE[0..15]") == ("PE", 16)
    assert parse_name("DRAM") == ("DRAM", 1)
    dims = ["C", "K", "R", "P"]
    assert parse_factors("R=3,P=16", dims, "t") == {"R": 3, "P": 16}
    assert parse_factors("R3 P16", dims, "t") == {"R": 3, "P": 16}
    assert parse_factors(["R=3", "P=16"], dims, "t") == {"R": 3, "P": 16}
    assert parse_factors("R<=3 P>=2", dims, "t", allow_ops=True) == {"R": ("<=", 3), "P": (">=", 2)}
    assert split_dims("PRKC", dims, "t") == ["P", "R", "K", "C"]
    assert split_dims("P, R K", dims, "t") == ["P", "R", "K"]
    with pytest.raises(InputError, match="unknown dimension 'X'"):
        parse_factors("X=3", dims, "mapping: Buffer")
    with pytest.raises(InputError, match="residual"):
        parse_factors("R=3,2", dims, "mapping: Buffer")
    with pytest.raises(InputError, match="only '=' is allowed"):
        parse_factors("R<=3", dims, "mapping: Buffer")


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


GEMM = """
problem:
  version: 0.4
  shape:
    name: GEMM
    dimensions: [M, N, K]
    data_spaces:
      - {name: A, projection: [[[M]], [[K]]]}
      - {name: B, projection: [[[K]], [[N]]]}
      - {name: Z, projection: [[[M]], [[N]]], read_write: true}
  instance: {M: 4, N: 4, K: 8}
"""

ARCH2 = """
architecture:
  version: 0.4
  subtree:
    - name: top
      local:
        - {name: DRAM, class: DRAM, attributes: {width: 8, datawidth: 8}}
        - {name: Buf, class: SRAM, attributes: {depth: 16, width: 8, datawidth: 8}}
        - {name: MAC, class: intmac}
"""


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = _write(tmp_path, "bad.yaml", "architecture:\n  subtree: [\n  - oops: }\n")
    with pytest.raises(InputError, match=r"bad\.yaml: malformed YAML at line \d+"):
        load_inputs([p])
    with pytest.raises(InputError, match="no such file"):
        load_inputs([tmp_path / "nope.yaml"])
    q = _write(tmp_path, "list.yaml", "- a\n- b\n")
    with pytest.raises(InputError, match="list.yaml: expected a YAML mapping"):
        load_inputs([q])


def test_missing_pieces_are_named(tmp_path):
    a = _write(tmp_path, "a.yaml", ARCH2)
    with pytest.raises(InputError, match="no 'problem' key"):
        load_inputs([a])
    p = _write(tmp_path, "p.yaml", GEMM.replace("K: 8}", "}"))
    with pytest.raises(InputError, match="dimension K has no size"):
        load_inputs([a, p])
    p2 = _write(tmp_path, "p2.yaml", GEMM.replace("[[[K]], [[N]]]", "[[[K]], [[Q]]]"))
    with pytest.raises(InputError, match="unknown dimension 'Q' in projection"):
        load_inputs([a, p2])


def test_mapping_targets_and_factors_checked(tmp_path):
    a = _write(tmp_path, "a.yaml", ARCH2)
    p = _write(tmp_path, "p.yaml", GEMM)
    m = _write(tmp_path, "m.yaml", "mapping:\n  - {target: GLB, type: temporal, factors: M=4}\n")
    with pytest.raises(InputError, match="unknown target 'GLB'; storage levels are DRAM, Buf"):
        load_inputs([a, p, m])
    m2 = _write(tmp_path, "m2.yaml", "mapping:\n  - {target: DRAM, type: temporal, factors: M=4 N=4 K=0}\n")
    ti = load_inputs([a, p, m2])                # K=0 means the whole dimension (Timeloop)
    assert ti.mapping.for_level("DRAM").temporal_factors == {"M": 4, "N": 4, "K": 8}
    assert ti.mapping.for_level("Buf").temporal_factors == {"M": 1, "N": 1, "K": 1}
    m3 = _write(tmp_path, "m3.yaml", "mapping:\n  - {target: DRAM, type: temporal, factors: M=4 N=2 K=8}\n")
    ti3 = load_inputs([a, p, m3])
    with pytest.raises(MappingError, match="dimension N multiply to 2, not to its size 4"):
        evaluate(ti3.problem, ti3.arch, ti3.mapping)


def test_strided_projection_and_coefficients(tmp_path):
    conv = """
problem:
  shape:
    name: conv
    dimensions: [P, R]
    coefficients: [{name: Wstride, default: 1}]
    data_spaces:
      - {name: Weights, projection: [[[R]]]}
      - {name: Inputs, projection: [[[R], [P, Wstride]]]}
      - {name: Outputs, projection: ["P"], read_write: true}
  instance: {P: 4, R: 3, Wstride: 2}
"""
    a = _write(tmp_path, "a.yaml", ARCH2)
    p = _write(tmp_path, "p.yaml", conv)
    ti = load_inputs([a, p])
    assert ti.problem.coefficients == {"Wstride": 2}
    assert ti.problem.dataspace("Inputs").projection == [[("R", 1), ("P", "Wstride")]]
    assert ti.problem.dataspace("Outputs").projection == [[("P", 1)]]


def test_constraints_are_read(tmp_path):
    a = _write(tmp_path, "a.yaml", ARCH2)
    p = _write(tmp_path, "p.yaml", GEMM)
    c = _write(tmp_path, "c.yaml", """
mapspace_constraints:
  targets:
    - {target: Buf, type: temporal, factors: K=8 M<=2, permutation: KM}
    - {target: Buf, type: bypass, keep: [Z], bypass: [A]}
architecture_constraints:
  targets:
    - {target: DRAM, type: bypass, keep: [A, B, Z]}
""")
    ti = load_inputs([a, p, c])
    lc = ti.constraints.levels["Buf"]
    assert lc.temporal_factors == {"K": ("=", 8), "M": ("<=", 2)}
    assert lc.temporal_permutation == ["K", "M"]
    assert lc.keep == ["Z"] and lc.bypass == ["A"]
    assert ti.arch.level("DRAM").keep == ["A", "B", "Z"]        # architecture constraints become Level.keep


# ---------------------------------------------------------------------------------------------------------
# Inputs timeloop-model would reject are rejected with an InputError naming the file and the field
# ---------------------------------------------------------------------------------------------------------

def _comp(raw, prefix):
    return next(c for c in raw["architecture"]["subtree"][0]["local"] if c["name"].startswith(prefix))


def _set_attr(prefix, key, value):
    def f(raw):
        _comp(raw, prefix)["attributes"][key] = value
    return f


BAD_INPUTS = [
    (_set_attr("RegisterFile", "meshX", "abc"), r"RegisterFile\.meshX: expected a number"),
    (_set_attr("RegisterFile", "meshY", 3), r"'RegisterFile': meshX\*meshY"),
    (_set_attr("GlobalBuffer", "datawidth", 0), r"GlobalBuffer: datawidth must be >= 1"),
    (_set_attr("GlobalBuffer", "width", 60), r"GlobalBuffer: width 60 bits is not a multiple of datawidth 8"),
    (_set_attr("GlobalBuffer", "depth", -1), r"GlobalBuffer: depth must be >= 0"),
    (_set_attr("GlobalBuffer", "multiple_buffering", 0), r"GlobalBuffer: multiple_buffering must be > 0"),
    (_set_attr("GlobalBuffer", "read_bandwidth", -2), r"GlobalBuffer: read_bandwidth must be > 0 words/cycle"),
    (_set_attr("GlobalBuffer", "min_utilization", 2), r"GlobalBuffer: min_utilization must be between 0 and 1"),
    (_set_attr("GlobalBuffer", "instances", "x"), r"GlobalBuffer\.instances: expected a number"),
    (lambda r: _comp(r, "GlobalBuffer").__setitem__("attributes", [1, 2]), r"GlobalBuffer: 'attributes' must be"),
    (lambda r: r["architecture"]["subtree"][0].__setitem__("local", 5), r"'local' must be a list"),
    (lambda r: _comp(r, "GlobalBuffer").__setitem__("name", "GlobalBuffer[3..1]"), r"range \[3\.\.1\] is empty"),
    (lambda r: r["problem"]["shape"].__setitem__("dimensions", ["C", "K", "R", "P", "P"]), r"listed twice"),
    (lambda r: r["problem"]["shape"].__setitem__("coefficients", [{"default": 2}]), r"coefficients: an entry has no"),
    (lambda r: r["problem"]["shape"].__setitem__("data_spaces", ["Weights"]), r"each entry needs a name"),
    (lambda r: r["problem"].__setitem__("shape", [1]), r"'shape' and 'instance' must be mappings"),
    (lambda r: r.__setitem__("mapspace_constraints", {"targets": [{"target": 7, "type": "temporal"}]}),
     r"mapspace_constraints: target 7 is not a storage level id \(0\.\.3\)"),
    (lambda r: r.__setitem__("mapspace_constraints", {"targets": [
        {"target": "inter_PE_spatial", "type": "spatial", "split": "x"}]}), r"split: expected a number"),
    (lambda r: r.__setitem__("mapspace_constraints", {"targets": [
        {"target": "inter_PE_spatial", "type": "utilization", "min": "x"}]}), r"min: expected a number"),
]


@needs_ref
@pytest.mark.parametrize("mutate,message", BAD_INPUTS)
def test_inputs_timeloop_rejects_are_rejected_naming_file_and_field(tmp_path, mutate, message):
    raw = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    mutate(raw)
    p = tmp_path / "in.yaml"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match=message) as info:
        load_inputs([p, KP / "timeloop-model.ERT.yaml"])
    assert str(p) in str(info.value)


def test_mesh_axes_must_divide_into_the_parents(tmp_path):
    # 2 GLBs on a 2x1 mesh above 6 RFs on a 3x2 mesh: 6 is a multiple of 2, but meshX 3 is not a multiple of 2
    # (Timeloop asserts both axes divide: mapping/arch-properties.cpp).
    arch = ARCH2.replace("{name: Buf, class: SRAM, attributes: {depth: 16, width: 8, datawidth: 8}}",
                         "{name: Buf, class: SRAM, attributes: {depth: 16, width: 8, datawidth: 8}}\n"
                         "      subtree:\n        - name: G[0..1]\n          attributes: {meshX: 2}\n"
                         "          local:\n            - {name: L2, class: SRAM, attributes: {depth: 8}}\n"
                         "          subtree:\n            - name: P[0..2]\n              attributes: {meshX: 3}\n"
                         "              local:\n                - {name: RF, class: regfile, attributes: {depth: 4}}\n"
                         "                - {name: MAC2, class: intmac}").replace("        - {name: MAC, class: intmac}\n", "")
    a = _write(tmp_path, "a.yaml", arch)
    p = _write(tmp_path, "p.yaml", GEMM)
    with pytest.raises(InputError, match=r"a\.yaml.*the 3x2 mesh of RF does not divide into the 2x1 mesh of L2"):
        load_inputs([a, p])


def test_mapping_must_satisfy_architecture_constraints(tmp_path):
    # timeloop-model refuses a mapping that violates the architecture constraints (Constraints::SatisfiedBy):
    # exact factors, bounds, the innermost-loop order of a partial permutation (loops of bound 1 skipped).
    a = _write(tmp_path, "a.yaml", ARCH2)
    p = _write(tmp_path, "p.yaml", GEMM)
    m = _write(tmp_path, "m.yaml", "mapping:\n  - {target: DRAM, type: temporal, factors: M=4 N=4 K=1}\n"
                                   "  - {target: Buf, type: temporal, factors: K=8, permutation: KMN}\n")

    def cons(text):
        return _write(tmp_path, "c.yaml", "architecture_constraints:\n  targets:\n" + text)

    ok = load_inputs([a, p, m, cons("    - {target: Buf, type: temporal, factors: K=8, permutation: K}\n")])
    assert ok.mapping.for_level("Buf").temporal_factors["K"] == 8
    with pytest.raises(MappingError, match=r"m\.yaml.*level Buf \(temporal\): factor K=8 violates the "
                                           r"architecture constraint K=4"):
        load_inputs([a, p, m, cons("    - {target: Buf, type: temporal, factors: K=4}\n")])
    with pytest.raises(MappingError, match=r"level DRAM \(temporal\): factor M=4 violates the architecture "
                                           r"constraint M<=2"):
        load_inputs([a, p, m, cons("    - {target: DRAM, type: temporal, factors: M<=2}\n")])
    # DRAM loops (inner first): M, N (K=1 is no loop); "N" innermost is violated, "MK" is not (K skipped).
    with pytest.raises(MappingError, match=r"level DRAM \(temporal\): permutation MNK .* N must be the innermost"):
        load_inputs([a, p, m, cons("    - {target: DRAM, type: temporal, permutation: N}\n")])
    load_inputs([a, p, m, cons("    - {target: DRAM, type: temporal, permutation: MK}\n")])
    # mapspace constraints only steer the mapper: timeloop-model ignores them
    c2 = _write(tmp_path, "c2.yaml", "mapspace_constraints:\n  targets:\n"
                                     "    - {target: Buf, type: temporal, factors: K=4}\n")
    assert load_inputs([a, p, m, c2]).mapping is not None


@needs_ref
def test_round_trip_is_exact(tmp_path):
    # A richer architecture than the reference: 2-D mesh, block size 2, read/write/shared bandwidths, double
    # buffering, keep/bypass constraints, min_utilization; a strided problem; a mapping with a Y split.
    from dataclasses import asdict

    from cimscope import ir
    from cimscope.timeloop.ert import arch_to_art
    e = {"read": 1.5, "write": 2.0, "update": 2.5, "leak": 0.01}
    arch = ir.Arch("rt", [
        ir.Level("DRAM", "DRAM", width=64, word_bits=8, action_energy_pJ=dict(e)),
        ir.Level("GLB", "SRAM", depth=512, width=64, word_bits=8, read_bandwidth=4.0, write_bandwidth=2.5,
                 shared_bandwidth=5.0, multiple_buffering=2.0, n_banks=4, keep=["Outputs"],
                 action_energy_pJ=dict(e), area_um2=1234.5),
        ir.Level("RF", "regfile", instances=8, mesh_x=4, mesh_y=2, depth=16, width=16, word_bits=8,
                 bypass=["Weights"], action_energy_pJ=dict(e), area_um2=10.0, attributes={"min_utilization": 0.05})],
        ir.ComputeLevel("MAC", "intmac", instances=8, mesh_x=4, mesh_y=2, word_bits=8,
                        action_energy_pJ={"compute": 0.5}, area_um2=7.0), cycle_seconds=2e-9, technology="22nm")
    prob = ir.Problem("c", {"R": 3, "P": 4, "K": 2}, [
        ir.Tensor("Weights", "weight", [[("R", 1)], [("K", 1)]], 8),
        ir.Tensor("Inputs", "input", [[("R", "Wd"), ("P", "Ws")]], 8),
        ir.Tensor("Outputs", "output", [[("P", 1)], [("K", 1)]], 8, read_write=True)],
        coefficients={"Ws": 2, "Wd": 1}, kind="conv")
    m = ir.Mapping([ir.LevelMapping("DRAM", {"R": 1, "P": 1, "K": 1}, "RPK"),
                    ir.LevelMapping("GLB", {"R": 3, "P": 1, "K": 1}, "RPK", spatial_factors={"P": 4, "K": 2, "R": 1},
                                    spatial_permutation="PKR", spatial_split=1),
                    ir.LevelMapping("RF", {"R": 1, "P": 1, "K": 1}, "RPK", bypass=["Weights"])])
    doc = inputs_to_yaml(arch, prob, m)
    doc.update(arch_to_ert(arch))
    doc.update(arch_to_art(arch))
    p = tmp_path / "rt.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    ti = load_inputs([p])

    def core(a):
        d = asdict(a)
        for lv in d["levels"] + [d["compute"]]:
            lv.pop("attributes")
        return d

    a2 = core(ti.arch)
    assert a2 == core(arch)
    assert ti.arch.level("RF").attributes["min_utilization"] == 0.05
    assert asdict(ti.problem) == asdict(prob)
    assert ti.mapping == m
    r1, r2 = evaluate(prob, arch, m), evaluate(ti.problem, ti.arch, ti.mapping)
    assert (r2.energy_pJ, r2.cycles) == (r1.energy_pJ, r1.cycles)


@needs_ref
def test_timeloopfe_component_constraints_keep_only_bypass_star_factors_only(tmp_path):
    # timeloopfe v4 constraint macros (v4/processors/constraint_macro.py): keep_only keeps the listed data
    # spaces and bypasses the rest, "*" is every data space, factors_only sets every other dimension to 1.
    nodes = NODES.replace(
        "{name: inter_PE_spatial, class: dummy_storage, attributes: {depth: 1, width: 1, datawidth: 1}}",
        "{name: inter_PE_spatial, class: dummy_storage, attributes: {depth: 1, width: 1, datawidth: 1},"
        " constraints: {dataspace: {bypass: ['*']}, temporal: {factors_only: [C=1]}}}").replace(
        "{name: RegisterFile, class: regfile, attributes: {depth: 64, width: 8, datawidth: 8}}",
        "{name: RegisterFile, class: regfile, attributes: {depth: 64, width: 8, datawidth: 8},"
        " constraints: {dataspace: {keep_only: [Weights]}}}")
    raw = yaml.safe_load((KP / "parsed-processed-input.yaml").read_text())
    (tmp_path / "arch.yaml").write_text(nodes)
    (tmp_path / "rest.yaml").write_text(yaml.safe_dump({"problem": raw["problem"], "mapping": raw["mapping"]}))
    ti = load_inputs([tmp_path / "arch.yaml", tmp_path / "rest.yaml", KP / "timeloop-model.ERT.yaml"])
    rf = ti.arch.level("RegisterFile")
    assert rf.keep == ["Weights"] and rf.bypass == ["Inputs", "Outputs"]
    assert ti.arch.level("inter_PE_spatial").bypass == ["Inputs", "Outputs", "Weights"]
    assert ti.constraints.levels["inter_PE_spatial"].temporal_factors == {d: ("=", 1) for d in "CKRP"}
    r = evaluate(ti.problem, ti.arch, ti.mapping)
    assert set(r.accesses["RegisterFile"]) == {"Weights"}
    # the same as the flattened reference input with the RF bypass written in its mapping
    flat = load_inputs([KP / "parsed-processed-input.yaml", KP / "timeloop-model.ERT.yaml"])
    flat.mapping.for_level("RegisterFile").bypass = ["Inputs", "Outputs"]
    assert r.energy_pJ == pytest.approx(evaluate(flat.problem, flat.arch, flat.mapping).energy_pJ)
