"""The vectorised model's speed devices change no number: a batch evaluated whole (candidates grouped by active
loop count, streams over active loops only) equals each candidate evaluated alone, and the integer projections
equal the matrix products they replace."""
import json
from pathlib import Path

import numpy as np

from cimscope import ir
from cimscope.mappers.mapspace import MapSpace
from cimscope.model.fast import evaluate_batch, make_static
from cimscope.model.streams import GROUP_MIN_ROWS, box_size, extents, rank_extents
from cimscope.study import Study, placed

PIN = Path(__file__).parent / "data" / "pin_workload.json"


def test_batch_equals_candidates_alone_on_a_strided_conv():
    wl = ir.Workload.from_dict(json.loads(PIN.read_text()))
    problem = wl.gemm_ops()[0].to_problem()                  # the 7x7 stride-2 stem convolution
    assert problem.dims.get("R") == 7
    arch = placed(Study(), 8).gemm
    space = MapSpace(problem, arch)
    cand = space.sample(np.random.default_rng(3), 2 * GROUP_MIN_ROWS)
    st = make_static(problem, arch)
    whole = evaluate_batch(st, cand.batch())
    assert whole["valid"].sum() > 20
    for i in range(0, cand.n, 7):
        one = evaluate_batch(st, cand.take(np.array([i])).batch())
        for k, v in whole.items():
            assert np.array_equal(v[i:i + 1], one[k], equal_nan=True), (k, i)


def test_integer_projections_equal_the_matrix_products():
    rng = np.random.default_rng(0)
    P = np.array([[1, 0, 0, 0], [0, 2, 1, 0], [0, 0, 0, 0], [0, 1, 0, 3]], dtype=np.int64)
    X = rng.integers(1, 50, (40, 5, 4))
    assert np.array_equal(rank_extents(P, X), (X - 1) @ P.T + 1)
    assert np.array_equal(rank_extents(P, X, 0), X @ P.T)
    assert np.array_equal(box_size(P, X), np.prod((X - 1) @ P.T + 1, axis=-1))
    assert np.array_equal(extents(X), np.cumprod(X, axis=1))
