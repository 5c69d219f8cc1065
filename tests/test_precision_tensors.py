"""--precision sets every tensor the HAWQ-V3 configuration implies (pipeline/precision.py): a GEMM's input and
weight at its layer's bits, its output and the NonGEMM activations after it at the next layer's activation
bits, bytes moved following; operators after the last layer keep the export's widths."""
import pytest

from cimscope.pipeline.precision import apply_precision
from cimscope.study import op_bits

TINY = """
import torch

def make():
    return torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128)), \\
        (torch.randn(64, 256),)
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    from cimscope.cli import main
    from cimscope.workloads import load_workload
    root = tmp_path_factory.mktemp("prec")
    (root / "tiny.py").write_text(TINY)
    out = {}
    for b in (8, 4):
        d = root / f"w{b}a{b}"
        assert main(["export", f"{root / 'tiny.py'}:make", "--weight-bits", str(b), "--act-bits", str(b),
                     "--out", str(d)]) == 0
        out[b] = load_workload(d)
    return root, out


def test_uniform_w4a4_file_gives_the_w4a4_export_up_to_the_last_output(exports):
    root, wl = exports
    f = root / "w4a4.yaml"
    f.write_text("layers:\n  '0': {w_bits: 4, a_bits: 4}\n  '2': {w_bits: 4, a_bits: 4}\n")
    got = apply_precision(wl[8], str(f))
    names = [o.name for o in got.ops]
    assert [o.op_class for o in got.ops] == [o.op_class for o in wl[4].ops]
    for a, b in zip(got.ops[:-1], wl[4].ops[:-1]):         # first GEMM, ReLU: as the 4/4 export
        assert [t.bits for t in a.tensors] == [t.bits for t in b.tensors], a.name
        assert (a.bytes_read, a.bytes_written) == (b.bytes_read, b.bytes_written), a.name
    last, last4 = got.ops[-1], wl[4].ops[-1]                # the last layer's output: no quantiser after it
    assert {t.role: t.bits for t in last.tensors} == {"input": 4, "weight": 4, "output": 8}
    assert last.bytes_read == last4.bytes_read and last.bytes_written == 2 * last4.bytes_written
    assert op_bits(got.ops[0]) == 4 and names == [o.name for o in wl[8].ops]


def test_mixed_file_output_takes_the_next_layers_activation_bits(exports):
    root, wl = exports
    f = root / "mixed.yaml"
    f.write_text("layers:\n  '0': {w_bits: 4, a_bits: 4}\n  '2': {w_bits: 8, a_bits: 8}\n")
    got = apply_precision(wl[8], str(f))
    first, relu = got.ops[0], got.ops[1]
    assert {t.role: t.bits for t in first.tensors} == {"input": 4, "weight": 4, "output": 8}
    assert relu == wl[8].ops[1]                              # at the next layer's 8 bits: unchanged
    f2 = root / "down.yaml"
    f2.write_text("layers:\n  '0': {w_bits: 8, a_bits: 8}\n  '2': {w_bits: 8, a_bits: 4}\n")
    down = apply_precision(wl[8], str(f2))
    assert {t.role: t.bits for t in down.ops[0].tensors} == {"input": 8, "weight": 8, "output": 4}
    assert down.ops[0].bytes_written == wl[8].ops[0].bytes_written // 2
    assert all(t.bits == 4 for t in down.ops[1].tensors)
    assert down.ops[1].bytes_read == wl[8].ops[1].bytes_read // 2
