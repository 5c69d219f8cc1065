"""Timeloop v0.4 problem documents: exact structure, round trip through YAML, one file per unique shape."""
from pathlib import Path

import pytest
import yaml

from cimscope.ir import Op, Tensor, Workload
from cimscope.workloads.problem import op_to_problem, validate_problem, write_problems
from refpaths import REFERENCE

CASES = REFERENCE / "timeloop_cases"


def conv_op(name="conv", K=32, stride=2):
    return Op(
        name=name, target="aten.convolution.default", module=name, op_class="GEMM", kind="conv",
        dims={"N": 1, "G": 2, "C": 16, "K": K, "R": 3, "S": 3, "P": 8, "Q": 8},
        coefficients={"Wstride": stride, "Hstride": stride, "Wdilation": 2, "Hdilation": 2},
        tensors=[
            Tensor("Inputs", "input", [[("N", 1)], [("G", 1)], [("C", 1)],
                                       [("R", "Wdilation"), ("P", "Wstride")],
                                       [("S", "Hdilation"), ("Q", "Hstride")]], 8),
            Tensor("Weights", "weight", [[("G", 1)], [("C", 1)], [("K", 1)], [("R", 1)], [("S", 1)]], 4),
            Tensor("Outputs", "output", [[("N", 1)], [("G", 1)], [("K", 1)], [("Q", 1)], [("P", 1)]], 8, True),
        ],
        macs=1 * 2 * 16 * K * 9 * 64,
    )


def relu_op(name="relu"):
    return Op(name=name, target="aten.relu.default", module="", op_class="activation", kind="elementwise",
              dims={"A": 100}, tensors=[Tensor("Inputs", "input", [[("A", 1)]], 8),
                                        Tensor("Outputs", "output", [[("A", 1)]], 8, True)],
              elem_ops=100, ops_per_element=1.0, bytes_read=100, bytes_written=100)


def test_conv_problem_structure_exact():
    doc = op_to_problem(conv_op())
    assert list(doc) == ["problem"]
    p = doc["problem"]
    assert list(p) == ["version", "shape", "instance"] and p["version"] == "0.4"
    shape = p["shape"]
    assert list(shape) == ["name", "dimensions", "coefficients", "data_spaces"]
    assert shape["dimensions"] == ["N", "G", "C", "K", "R", "S", "P", "Q"]
    assert shape["coefficients"] == [{"name": c, "default": 1}
                                     for c in ("Wstride", "Hstride", "Wdilation", "Hdilation")]
    inputs = shape["data_spaces"][0]
    assert inputs == {"name": "Inputs", "read_write": False,
                      "projection": [[["N"]], [["G"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]],
                                     [["S", "Hdilation"], ["Q", "Hstride"]]]}
    assert [d["read_write"] for d in shape["data_spaces"]] == [False, False, True]
    assert p["instance"] == {"N": 1, "G": 2, "C": 16, "K": 32, "R": 3, "S": 3, "P": 8, "Q": 8,
                             "Wstride": 2, "Hstride": 2, "Wdilation": 2, "Hdilation": 2, "densities": {}}
    assert validate_problem(doc) == []


def test_problem_nesting_matches_timeloop_reference_case():
    """Our documents nest projections exactly like the problem timeloop-model parsed in a reference run."""
    ref_file = CASES / "04-conv1d+oc-3levelspatial-cp" / "parsed-processed-input.yaml"
    ref = yaml.safe_load(ref_file.read_text())["problem"]
    ours = op_to_problem(conv_op())["problem"]
    assert set(ours) == set(ref)
    assert set(ours["shape"]) == set(ref["shape"])
    assert set(ours["shape"]["data_spaces"][0]) == set(ref["shape"]["data_spaces"][0])
    assert "densities" in ref["instance"] and ours["instance"]["densities"] == ref["instance"]["densities"]
    for ds_ref in ref["shape"]["data_spaces"]:
        for rank in ds_ref["projection"]:                         # list of ranks / list of terms / [dim]
            assert isinstance(rank, list) and all(isinstance(t, list) and isinstance(t[0], str) for t in rank)
    assert validate_problem({"problem": {**ref, "shape": {**ref["shape"]}}}) == []


def test_validate_problem_catches_errors():
    doc = op_to_problem(conv_op())
    doc["problem"]["shape"]["data_spaces"][0]["projection"][0] = [["Z"]]
    doc["problem"]["instance"]["K"] = 0
    doc["problem"]["shape"]["data_spaces"][2]["projection"][3] = [["Q", 2]]   # a number, not a name
    errs = validate_problem(doc)
    assert any("'Z' not declared" in e for e in errs) and any("instance K" in e for e in errs)
    assert any("coefficient 2 of 'Q' is not a coefficient name" in e for e in errs)
    assert len(errs) == 3, errs


def test_write_problems_one_file_per_shape_with_counts(tmp_path):
    wl = Workload("toy", [conv_op("c1"), relu_op("r1"), conv_op("c2"), conv_op("c3", K=64), relu_op("r2")])
    paths = write_problems(wl, tmp_path)
    assert len(paths) == 3 and all(p.parent == tmp_path for p in paths)
    index = yaml.safe_load((tmp_path / "index.yaml").read_text())
    assert [e["count"] for e in index["index"]] == [2, 2, 1]
    assert index["index"][0]["ops"] == ["c1", "c2"] and index["operators"] == 5
    assert sum(e["count"] for e in index["index"]) == len(wl.ops)
    for path, op in zip(paths, [conv_op("c1"), relu_op(), conv_op("c3", K=64)]):
        text = path.read_text()
        assert text.startswith("# cimscope problem")
        loaded = yaml.safe_load(text)                                  # comments are invisible to parsers
        assert loaded == op_to_problem(op)
        assert validate_problem(loaded) == []
    assert "# occurrences: 2" in paths[0].read_text()


# ---- Timeloop's limits (NVlabs/timeloop problem-shape.hpp MAX_DATA_SPACES = 5; one-letter dimension names) ----

def batchnorm_op(name="bn"):
    proj = [[("N", 1)], [("C", 1)], [("X", 1)]]
    per_channel = [[("C", 1)]]
    return Op(name=name, target="aten._native_batch_norm_legit_no_training.default", module=name,
              op_class="normalization", kind="norm", dims={"N": 1, "C": 64, "X": 3136},
              tensors=[Tensor("Inputs", "input", proj, 8)]
              + [Tensor(f"Inputs{i}", "input", per_channel, 16) for i in range(2, 6)]
              + [Tensor("Outputs", "output", proj, 8, True)],
              elem_ops=64 * 3136 * 2, ops_per_element=2.0, bytes_read=64 * 3136 + 4 * 128, bytes_written=64 * 3136)


def test_batchnorm_folds_its_four_per_channel_tensors_into_scale_and_shift(tmp_path):
    from cimscope.workloads.problem import MAX_DATA_SPACES, timeloop_data_spaces
    op = batchnorm_op()
    assert len(op.tensors) == 6 > MAX_DATA_SPACES == 5
    spaces = op_to_problem(op)["problem"]["shape"]["data_spaces"]
    assert [d["name"] for d in spaces] == ["Inputs", "Inputs2", "Inputs3", "Outputs"]
    assert spaces[1]["projection"] == spaces[2]["projection"] == [[["C"]]]
    assert [d["read_write"] for d in spaces] == [False, False, False, True]
    assert not validate_problem(op_to_problem(op))
    assert len(op.tensors) == 6                                  # the Op (builtin costs) is not changed
    note = timeloop_data_spaces(op)[1]
    assert "scale" in note and "shift" in note
    (path,) = write_problems(Workload(model="m", batch=1, ops=[op]), tmp_path)
    assert "# folded for Timeloop: " in path.read_text()
    index = yaml.safe_load((tmp_path / "index.yaml").read_text())["index"][0]
    assert index["folded_for_timeloop"] == note


def test_problems_outside_timeloop_limits_are_refused_by_name():
    from cimscope.errors import ExportError
    op = batchnorm_op()
    op.kind = "elementwise"                                      # not a normalization: nothing to fold
    with pytest.raises(ExportError, match=r"6 data spaces .*Timeloop allows 5"):
        op_to_problem(op)
    long = relu_op()
    long.dims = {"AB": 100}
    long.tensors = [Tensor("Inputs", "input", [[("AB", 1)]], 8), Tensor("Outputs", "output", [[("AB", 1)]], 8, True)]
    with pytest.raises(ExportError, match="not single letters"):
        op_to_problem(long)


@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2"])
def test_every_exported_problem_is_within_timeloop_limits(model):
    """The issue's count: 5 of 29 resnet18 problems and 19 of 68 mobilenet_v2 had 6 data spaces."""
    from cimscope.workloads import export_model
    from cimscope.workloads.problem import timeloop_limit_problems, unique_ops
    wl = export_model(model)
    docs = [op_to_problem(op) for _, op, _ in unique_ops(wl)]
    assert all(not timeloop_limit_problems(d) and not validate_problem(d) for d in docs)
    assert max(len(d["problem"]["shape"]["data_spaces"]) for d in docs) <= 5
    norms = [op for _, op, _ in unique_ops(wl) if op.kind == "norm" and len(op.tensors) == 6]
    assert len(norms) == {"resnet18": 5, "mobilenet_v2": 19}[model]
