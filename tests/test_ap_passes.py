"""AP pass programs: they compute what they claim (bit-level model), closed forms equal the counted passes,
add is linear and multiply quadratic in the bit width (Yavits et al. IEEE TC 2015: add 8M cycles)."""
import numpy as np
import pytest

from cimscope.errors import InputError, UnknownNameError
from cimscope.plugins.ap import ApArray, ap_passes, count_passes, program, reduction_stages

R = 256
rng = np.random.default_rng(1)


def _signed(bits, n):
    return rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), n) if bits > 1 else rng.integers(-1, 1, n)


@pytest.mark.parametrize("M,W", [(1, 1), (3, 3), (4, 7), (8, 8)])
@pytest.mark.parametrize("op", ["add", "sub", "accumulate"])
def test_add_sub_accumulate_programs_compute_and_count(op, M, W):
    arr = ApArray(R, {"A": M, "B": W, "C": 1})
    a = _signed(M, R) if op == "accumulate" else rng.integers(0, 1 << M, R)
    b = rng.integers(0, 1 << W, R)
    arr.load("A", a)
    arr.load("B", b)
    arr.load("C", rng.integers(0, 2, R))             # garbage carry: the program must clear it
    prog = program(op, M, W)
    arr.run(prog)
    expect = (b - a if op == "sub" else b + a) % (1 << W)
    assert (arr.value("B") == expect).all()
    assert count_passes(prog) == ap_passes(op, M, W)
    assert (arr.compares, arr.writes) == (ap_passes(op, M, W).compares, ap_passes(op, M, W).writes)


@pytest.mark.parametrize("Ma,Mb", [(1, 1), (2, 3), (4, 4), (8, 8), (3, 6)])
def test_multiply_unsigned_by_twos_complement(Ma, Mb):
    arr = ApArray(R, {"A": Ma, "B": Mb, "P": Ma + Mb, "C": 1})
    a, b = rng.integers(0, 1 << Ma, R), _signed(Mb, R)
    arr.load("A", a)
    arr.load("B", b)
    arr.load("P", rng.integers(0, 1 << (Ma + Mb), R))
    prog = program("mul", Ma, Mb)
    arr.run(prog)
    assert (arr.value("P", signed=True) == a * b).all()
    assert count_passes(prog) == ap_passes("mul", Ma, Mb)


@pytest.mark.parametrize("M", [1, 3, 8])
def test_compare_max_relu_copy_saturate(M):
    a, b = rng.integers(0, 1 << M, R), rng.integers(0, 1 << M, R)
    for op in ("compare", "max", "relu", "copy"):
        arr = ApArray(R, {"A": M, "B": M, "G": 1, "L": 1})
        arr.load("A", a)
        arr.load("B", b)
        arr.load("G", rng.integers(0, 2, R))
        prog = program(op, M)
        arr.run(prog)
        if op == "compare":
            assert (arr.value("G") == (a > b)).all() and (arr.value("L") == (a < b)).all()
        elif op == "max":
            assert (arr.value("B") == np.maximum(a, b)).all()
        elif op == "relu":
            assert (arr.value("A") == np.where(a >= 1 << (M - 1), 0, a)).all()
        else:
            assert (arr.value("B") == a).all()
        assert count_passes(prog) == ap_passes(op, M)
    arr = ApArray(R, {"X": M + 4})
    x = rng.integers(0, 1 << (M + 4), R)
    arr.load("X", x)
    arr.run(program("saturate", M + 4, M))
    assert (arr.value("X", width=M) == np.minimum(x, (1 << M) - 1)).all()
    assert count_passes(program("saturate", M + 4, M)) == ap_passes("saturate", M + 4, M)


def test_add_is_linear_and_multiply_quadratic_in_bit_width():
    bits = list(range(1, 17))
    add = [ap_passes("add", m).compares for m in bits]
    mul = [ap_passes("mul", m).compares for m in bits]
    # published form: 4 compare + 4 write passes per bit -> 8M cycles (+1 carry-clear write)
    assert add == [4 * m for m in bits]
    assert [ap_passes("add", m).cycles() for m in bits] == [8 * m + 1 for m in bits]
    assert len({b - a for a, b in zip(add, add[1:])}) == 1                      # constant first difference
    d1 = [b - a for a, b in zip(mul, mul[1:])]
    assert len({b - a for a, b in zip(d1, d1[1:])}) == 1 and d1[1] - d1[0] == 8   # constant 2nd difference
    assert ap_passes("mul", 8).cycles() == 8 * 64 + 2 * 8 + 1                  # ~8M^2 cycles
    assert ap_passes("mul", 4, 8).compares == 8 * (4 * 4 + 1)                  # Mb (4 Ma + 1)


def test_reduce_and_write_cycles():
    assert reduction_stages(1) == 0 and reduction_stages(2) == 1 and reduction_stages(18) == 5
    assert ap_passes("reduce", 10, 18).compares == 6 * 10 * 5
    assert ap_passes("add", 8).cycles(write_cycles=3) == 32 + 33 * 3


def test_bad_operations_and_widths():
    with pytest.raises(UnknownNameError, match="unknown AP operation 'divide'"):
        ap_passes("divide", 8)
    with pytest.raises(InputError, match="positive integer"):
        ap_passes("add", 0)
    with pytest.raises(InputError, match="smaller than"):
        ap_passes("add", 8, 4)
    assert ap_passes("Multiply", 4) == ap_passes("mul", 4)
