"""The timeloopfe v0.4 frontend rule by rule: YAML (tags, repeated anchors, quoted strings, <<< merges), Jinja2
includes, expressions (values and refusals), constraint processing, refusals with one-line messages."""
from __future__ import annotations

import glob
import textwrap
from pathlib import Path

import pytest

from refpaths import REFERENCE

from cimscope.errors import InputError
from cimscope.timeloop.spec import is_source_spec, load_sources
from cimscope.timeloop.spec.expr import ExprError, evaluate
from cimscope.timeloop.spec.processors import greedy_allocate
from cimscope.timeloop.spec.yamlload import Quoted, parse_yaml

PROBLEM = textwrap.dedent("""\
    problem:
      version: 0.4
      shape:
        name: mm
        dimensions: [M, N, K]
        data_spaces:
        - {name: A, projection: [[[M]], [[K]]]}
        - {name: B, projection: [[[N]], [[K]]]}
        - {name: Z, projection: [[[M]], [[N]]], read_write: true}
      instance: {M: 8, N: 4, K: 16, H: 3}
    """)

ARCH = textwrap.dedent("""\
    variables: {version: 0.4, X: 4, DW: 8}
    architecture:
      version: 0.4
      nodes:
      - !Container {name: system, attributes: {technology: "45nm"}}
      - !Component
        name: DRAM
        class: DRAM
        attributes: {width: 64, datawidth: DW}
      - !Component
        name: buf
        class: SRAM
        attributes: {depth: 2 ** 10, datawidth: DW, width: datawidth * 4, note: "a + b"}
        constraints:
          temporal: {factors_only: [K=16], permutation: [K]}
      - !Container
        name: PE
        spatial: {meshX: X}
        constraints: {spatial: {factors: [K=1], split: 1}}
      - !Parallel
        nodes:
        - !Component {name: ra, class: regfile, attributes: {depth: 1, width: 8, datawidth: 8},
                      constraints: {dataspace: {keep: [A]}}}
        - !Component {name: rb, class: regfile, attributes: {depth: 1, width: 8, datawidth: 8},
                      constraints: {dataspace: {keep_only: [B, Z]}}}
      - !Nothing
      - !Component {name: mac, class: intmac, attributes: {width: 8}}
    """)


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def small(tmp_path):
    return [_write(tmp_path, "arch.yaml", ARCH), _write(tmp_path, "prob.yaml", PROBLEM)]


def _targets(doc: dict) -> dict:
    return {(t["target"], t["type"]): t for t in doc["architecture_constraints"]["targets"]}


def test_small_spec_flattens_like_timeloopfe(small):
    doc = load_sources(small)
    top = doc["architecture"]["subtree"][0]
    assert top["name"] == "system_top_level" and top["attributes"]["X"] == 4
    comps = {c["name"]: c for c in top["local"]}
    assert list(comps) == ["DRAM[1..1]", "buf[1..1]", "inter_PE_spatial[1..1]", "ra[1..4]", "rb[1..4]", "mac[1..4]"]
    buf = comps["buf[1..1]"]["attributes"]
    assert (buf["depth"], buf["width"], buf["note"], buf["technology"]) == (1024, 32, "a + b", "45nm")
    assert buf["n_banks"] == 2 and comps["ra[1..4]"]["attributes"]["meshX"] == 4
    t = _targets(doc)
    assert sorted(t[("buf", "temporal")]["factors"].split(",")) == ["K=16", "M=1", "N=1"]
    assert t[("buf", "temporal")]["permutation"] == "NMK"            # factors of 1 go innermost
    assert t[("inter_PE_spatial", "spatial")] == {"factors": "K=1", "split": 1, "permutation": "K",
                                                  "type": "spatial", "target": "inter_PE_spatial"}
    assert sorted(t[("inter_PE_spatial", "bypass")]["bypass"]) == ["A", "B", "Z"]
    assert sorted(t[("ra", "bypass")]["bypass"]) == ["B", "Z"]       # !Parallel: the other branch keeps them
    assert sorted(t[("rb", "bypass")]["keep"]) == ["B", "Z"] and t[("rb", "bypass")]["bypass"] == ["A"]
    assert doc["problem"]["instance"] == {"M": 8, "N": 4, "K": 16, "densities": {}}   # H: Timeloop ignores it


def test_for_model_puts_constraints_in_the_mapping(small):
    doc = load_sources(small, for_model=True)
    assert doc["architecture_constraints"]["targets"] == []
    assert {(m["target"], m["type"]) for m in doc["mapping"]} >= {("buf", "temporal"), ("inter_PE_spatial", "spatial")}


def test_repeated_anchor_in_one_file_and_across_includes(tmp_path):
    _write(tmp_path, "a.yaml", "x: &v {depth: 4}\nval: *v\n")
    _write(tmp_path, "b.yaml", "x: &v {depth: 8}\nval: *v\n")
    top = _write(tmp_path, "top.yaml", "a: {{include('a.yaml', 'val')}}\nb: {{include('b.yaml', 'val')}}\n"
                                       "c: &v 1\nd: *v\nc2: &v 2\ne: *v\n")
    from cimscope.timeloop.spec.render import load_top_files
    (_, doc), = load_top_files([top])
    assert (doc["a"], doc["b"], doc["d"], doc["e"]) == ({"depth": 4}, {"depth": 8}, 1, 2)


def test_include_text_anchor_and_recursive_merge(tmp_path):
    _write(tmp_path, "base.yaml", "base_ignore: &base\n  instance: {M: 1, N: 1}\n  shape: {name: s}\n")
    top = _write(tmp_path, "layer.yaml", "{{include_text('base.yaml')}}\nproblem:\n  <<<: *base\n"
                                         "  instance: {M: 7}\n")
    from cimscope.timeloop.spec.render import load_top_files
    (_, doc), = load_top_files([top])
    assert doc["problem"] == {"instance": {"M": 7, "N": 1}, "shape": {"name": "s"}}


def test_jinja_errors_name_the_file_and_variable(tmp_path):
    top = _write(tmp_path, "top.yaml.jinja2", "architecture: {{include(cwd() ~ '/' ~ architecture ~ '/a.yaml')}}\n")
    with pytest.raises(InputError, match=r"top\.yaml\.jinja2: Jinja2: 'architecture' is undefined"):
        load_sources([top])
    with pytest.raises(InputError, match=r"cannot find '.*/nope/a\.yaml'"):
        load_sources([top], {"architecture": "nope"})


def test_yaml_error_names_file_and_line(tmp_path):
    bad = _write(tmp_path, "bad.yaml", "architecture:\n  nodes: [a, b\nproblem: {}\n")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: malformed YAML"):
        load_sources([bad])


def test_quoted_strings_are_not_expressions():
    (doc) = parse_yaml('a: "x + 1"\nb: x + 1\n', "t")
    assert isinstance(doc["a"], Quoted)
    assert evaluate(doc["a"], {"x": 1}, "a") == "x + 1" and evaluate(doc["b"], {"x": 1}, "b") == 2


@pytest.mark.parametrize("text, value", [("1e-9", 1e-9), ("16", 16), ("true", True), ("max(1, ceil(log2(100)))", 7),
                                         ("8 if W > 4 else 2", 8), ("len([1, 2, 3]) * W", 15), ("W // 2", 2)])
def test_expression_values(text, value):
    assert evaluate(text, {"W": 5}, "w") == value


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "(lambda: 1)()", "W.__class__",
                                  "[x for x in range(3)]", "open('/etc/passwd')", "9 ** 99999", "range(10**9)"])
def test_unsafe_or_unbounded_expressions_are_refused(text):
    with pytest.raises(ExprError):
        evaluate(text, {"W": 5}, "arch.x")


def test_undefined_name_names_the_key(small, tmp_path):
    p = _write(tmp_path, "arch.yaml", ARCH.replace("meshX: X", "meshX: Y"))
    with pytest.raises(InputError, match=r"architecture: PE\.spatial\.meshX: cannot evaluate 'Y': name 'Y' is not "
                                         r"defined"):
        load_sources([p, small[1]])


def test_container_temporal_constraints_are_refused_not_dropped(small, tmp_path):
    p = _write(tmp_path, "arch.yaml", ARCH.replace("{spatial: {factors: [K=1], split: 1}}",
                                                   "{temporal: {factors: [K=1]}}"))
    with pytest.raises(InputError, match=r"container 'PE' has temporal constraints"):
        load_sources([p, small[1]])


def test_constraint_lists_attach_and_conflicts_are_refused(small, tmp_path):
    extra = _write(tmp_path, "cons.yaml", "mapspace_constraints:\n  targets:\n"
                                          "  - {target: DRAM, type: temporal, factors: M=8 N=4}\n")
    t = _targets(load_sources(small + [extra]))
    assert sorted(t[("DRAM", "temporal")]["factors"].split(",")) == ["M=8", "N=4"]
    clash = _write(tmp_path, "clash.yaml", "constraints:\n  targets:\n  - {target: buf, type: temporal, "
                                           "factors: [K=8]}\n")
    with pytest.raises(InputError, match=r"buf\.constraints\.temporal: conflicting factors K=8 and K=16 for dimension K"):
        load_sources(small + [clash])
    missing = _write(tmp_path, "miss.yaml", "constraints:\n  targets:\n  - {target: GLB, type: temporal}\n")
    with pytest.raises(InputError, match=r"no node named 'GLB' in the architecture; nodes are system, DRAM, buf"):
        load_sources(small + [missing])


def test_sparse_features_are_refused_by_name(small, tmp_path):
    dens = _write(tmp_path, "p.yaml", PROBLEM.replace("H: 3}", "densities: {A: {density: 0.5}}}"))
    with pytest.raises(InputError, match=r"^sparse \(Sparseloop\) feature not modelled: density 0\.5 of data space A"):
        load_sources([small[0], dens])
    opt = _write(tmp_path, "so.yaml", "sparse_optimizations:\n  targets:\n  - target: buf\n"
                                      "    action_optimization: [{type: skipping, target: A}]\n")
    with pytest.raises(InputError, match=r"^sparse \(Sparseloop\) feature not modelled: skipping/gating"):
        load_sources(small + [opt])


def test_unknown_top_key_and_unknown_class(small, tmp_path):
    with pytest.raises(InputError, match=r"unknown top-level key 'archtecture'"):
        load_sources(small + [_write(tmp_path, "x.yaml", "archtecture: {}\n")])
    p = _write(tmp_path, "arch.yaml", ARCH.replace("class: SRAM", "class: flipflop"))
    with pytest.raises(InputError, match=r"class 'flipflop', which timeloopfe does not know"):
        load_sources([p, small[1]])


def test_greedy_allocate_fills_the_fanout():
    assert greedy_allocate({"M": 128, "C": 128}, 8) == ([("M", 2), ("M", 2), ("M", 2)], 8.0)
    assert greedy_allocate({"M": 3, "C": 5}, 16) == ([("M", 3), ("C", 5)], 15.0)
    alloc, util = greedy_allocate({"M": 100}, 8)        # no exact fit: 13 rounds of 8 cover 100
    assert alloc == [("M", 8)] and util == pytest.approx(100 / 13)


def test_is_source_spec(small, tmp_path):
    assert is_source_spec(small) and is_source_spec([_write(tmp_path, "t.yaml.jinja2", "a: 1\n")])
    processed = REFERENCE / "timeloop_cases" / "00-conv1d-1level" / "parsed-processed-input.yaml"
    assert not is_source_spec([processed])


def test_www_designs_read_with_a_dense_gemm(tmp_path):
    """Every WWW artifact design (CiM arrays under !Parallel branches, meshes from variables) reads."""
    designs = REFERENCE / "www_artifact" / "designs"
    prob = (designs / "_include" / "mm-example.yaml").read_text(encoding="utf-8")
    dense = _write(tmp_path, "mm.yaml", prob.split("    densities:")[0] + "  shape:" + prob.split("  shape:")[1])
    comps = sorted(glob.glob(str(designs / "_components" / "*.yaml")))
    for arch in sorted(designs.glob("*/arch*.yaml")):
        doc = load_sources([arch, dense, designs / "_include" / "mapper.yaml", *comps])
        names = [c["name"] for c in doc["architecture"]["subtree"][0]["local"]]
        assert names[0] == "DRAM[1..1]" and names[-1].endswith("[1..1024]"), (arch, names)


def test_jinja_statement_include_and_data(tmp_path):
    _write(tmp_path, "part.yaml", "  depth: {{ depth }}\n")
    top = _write(tmp_path, "top.yaml", "x:\n{% include 'part.yaml' %}\n")
    from cimscope.timeloop.spec.render import load_top_files
    (_, doc), = load_top_files([top], {"depth": 64})
    assert doc == {"x": {"depth": 64}}


def test_bad_dimension_size_is_refused(small, tmp_path):
    p = _write(tmp_path, "p.yaml", PROBLEM.replace("M: 8", "M: many"))
    with pytest.raises(InputError, match=r"problem\.instance\.M: cannot evaluate 'many'"):
        load_sources([small[0], p])
    p = _write(tmp_path, "p.yaml", PROBLEM.replace("M: 8", "M: 0.5"))
    with pytest.raises(InputError, match=r"problem\.instance\.M: the size of dimension M must be a positive integer"):
        load_sources([small[0], p])


@pytest.mark.parametrize("arch, message", [
    ("architecture: {nodes: 5}", r"'nodes' must be a list"),
    ("architecture: {nodes: [!Component {name: a, class: DRAM, constraints: {foo: {x: 1}}}]}",
     r"a\.constraints: unknown constraint type\(s\) foo; types are spatial, temporal"),
    ("architecture: {nodes: [!Component {name: a, class: DRAM, constraints: {dataspace: {keep: [Q]}}},"
     " !Component {name: m, class: mac}]}", r"keep: unknown data space 'Q'; data spaces are A, B, Z"),
    ("mapping: 5\narchitecture: {nodes: []}", r"mapping: expected a list of directives"),
    ("constraints: {targets: 3}\narchitecture: {nodes: []}", r"constraints\.targets: expected a list"),
    ("architecture: {nodes: [!Component {name: a, class: DRAM, spatial: {meshX: 0}}]}",
     r"a\.spatial\.meshX must be a positive integer, found 0"),
])
def test_malformed_inputs_get_one_line(small, tmp_path, arch, message):
    with pytest.raises(InputError, match=message):
        load_sources([_write(tmp_path, "a.yaml", arch + "\n"), small[1]])
