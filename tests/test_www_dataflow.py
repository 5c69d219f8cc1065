"""The priority-based dataflow of WWW (cimscope.www.dataflow) against the artifact's constraints."""
from __future__ import annotations

import json

import pytest

from cimscope.errors import InputError
from cimscope.www.dataflow import (RF_THRESHOLD, THRESHOLD, Factors, grow_factor, largest_divisor, loop_order,
                                   priority_dataflow)
from cimscope.www.methodology import dataflow_for
from refpaths import REFERENCE

LINES = (REFERENCE / "www_artifact" / "constraints" / "output.jsonl").read_text().splitlines()


@pytest.mark.parametrize("threshold", [THRESHOLD, RF_THRESHOLD])
def test_every_line_of_output_jsonl(threshold):
    assert len(LINES) == 63
    for line in LINES:
        rec = json.loads(line)
        a = rec["input_arguments"]
        smem = None if a["Smem"] == -1 else a["Smem"] * 1024
        df = priority_dataflow(a["M"], a["N"], a["K"], a["Rp"], a["Cp"], a["Rh"], a["Ch"], a["X"], a["Y"],
                               smem_words=smem, threshold=threshold)
        assert df.to_artifact() == rec["constraints"], a


# The constraints of the artifact's stored BERT-Large 512x1024x1024 runs (github.com/tanvisharma/WWWtoCiM,
# www-cim/outputs/<placement>_compute_<primitive>/BERT-Large/outputs_consv2p1 (rf) or outputs_cons (smem)/
# 512_1024_1024/parsed-processed-input.yaml, architecture_constraints): DRAM, SMEM, bank, array, hold factors
# as (M, N, K), and the DRAM loop order (innermost first).
STORED = {
    ("rf", "analog6T"): ((1, 4, 8), (512, 1, 2), (1, 4, 1), (1, 4, 64), (1, 16, 1), "KNM"),
    ("rf", "analog8T"): ((1, 4, 8), (512, 1, 2), (1, 4, 1), (1, 4, 64), (1, 16, 1), "KNM"),
    ("rf", "digital8T"): ((1, 4, 8), (512, 2, 4), (1, 1, 4), (1, 128, 1), (1, 1, 8), "KNM"),
    ("smem", "analog6T"): ((512, 16, 4), None, (1, 1, 4), (1, 4, 64), (1, 16, 1), "MKN"),
    ("smem", "analog8T"): ((512, 16, 4), None, (1, 1, 4), (1, 4, 64), (1, 16, 1), "MKN"),
    ("smem", "digital6T"): ((512, 64, 1), None, (1, 1, 4), (1, 16, 256), (1, 1, 1), "MKN"),
    ("smem", "digital8T"): ((512, 8, 32), None, (1, 1, 4), (1, 128, 1), (1, 1, 8), "MKN"),
}


@pytest.mark.parametrize("key", sorted(STORED))
def test_artifact_variant_gives_the_stored_runs_constraints(key):
    dram, smem, bank, array, hold, order = STORED[key]
    df = dataflow_for(*key, 512, 1024, 1024)
    assert (df.dram, df.smem, df.bank, df.array, df.hold) == (
        Factors(*dram), Factors(*smem) if smem else None, Factors(*bank), Factors(*array), Factors(*hold))
    assert df.dram_order == order


def test_v2_variant_differs_where_the_stored_runs_used_another_rule():
    # published constraints/main.py (threshold 32): analog6T at SMEM spreads N over the banks, digital8T at RF too
    assert dataflow_for("smem", "analog6T", 512, 1024, 1024, "v2").bank == Factors(1, 4, 1)
    assert dataflow_for("rf", "digital8T", 512, 1024, 1024, "v2").bank == Factors(1, 4, 1)


def test_helpers_by_hand():
    assert largest_divisor(512, 819) == 512 and largest_divisor(1024, 10) == 8 and largest_divisor(7, 4) == 1
    assert loop_order(1, 4, 8) == "KNM" and loop_order(512, 1, 2) == "MKN" and loop_order(512, 64, 1) == "MNK"
    # capacity 262144, A = 64 x 512, Z = 256 x 512, K left 16: factors 2 then 2 (tracked A 65536 -> 262144
    # overflows with Z), so one step back: 2
    assert grow_factor(262144, 64 * 512, 256 * 512, 16) == 2
    assert grow_factor(10 ** 9, 1, 1, 12) == 12          # everything fits: the whole remainder


def test_bad_arguments_name_the_problem():
    with pytest.raises(InputError, match="Rp must be a positive integer"):
        priority_dataflow(16, 16, 16, 0, 4, 1, 16)
    with pytest.raises(InputError, match="Y banks only"):
        priority_dataflow(16, 16, 16, 64, 4, 1, 16, X=2)
    with pytest.raises(InputError, match="bank rule"):
        priority_dataflow(16, 16, 16, 64, 4, 1, 16, bank_rule="x")
    with pytest.raises(InputError, match="does not fit"):
        priority_dataflow(16, 1024, 1024, 64, 4, 1, 16, smem_words=100)
