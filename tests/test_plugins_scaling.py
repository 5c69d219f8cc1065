"""Technology-node / supply-voltage scaling (Stillmaker & Baas 2017) against hand-evaluated fits."""
import numpy as np
import pytest

from cimscope.errors import InputError
from cimscope.plugins import scaling as s


def test_nominal_voltages():
    assert s.nominal_vdd(180) == 1.8
    assert s.nominal_vdd(65) == 1.1
    assert s.nominal_vdd(45) == 1.0
    assert s.nominal_vdd(7) == 0.7
    assert s.nominal_vdd(45, flavor="LP") == 1.1
    assert s.nominal_vdd(28) == pytest.approx(0.9)          # between 32 nm (0.9 V) and 20 nm (0.9 V)
    assert s.valid_voltage_range(7) == (0.42, 0.77)


def test_energy_factor_hand_evaluated():
    # HP 45 nm at 1.0 V: 1.018 - 0.3107 + 0.1539; HP 7 nm at 0.7 V: 0.1776*0.49 - 0.09097*0.7 + 0.02447
    e45 = 1.018 - 0.3107 + 0.1539
    e7 = 0.1776 * 0.49 - 0.09097 * 0.7 + 0.02447
    assert s.energy_factor(45, 7) == pytest.approx(e7 / e45, rel=1e-12)
    assert s.energy_factor(45, 7) == pytest.approx(0.055521, rel=1e-4)
    # 180 nm at 1.8 V: 24.64*1.8 - 17.98; 130 nm at 1.3 V: 7.171*1.69 - 6.709*1.3 + 2.904
    assert s.energy_factor(180, 130) == pytest.approx((7.171 * 1.69 - 6.709 * 1.3 + 2.904) / (24.64 * 1.8 - 17.98))
    # voltage only: 45 nm from 1.0 V to 0.8 V
    assert s.energy_factor(45, 45, None, 0.8) == pytest.approx((1.018 * 0.64 - 0.3107 * 0.8 + 0.1539) / e45)
    assert s.energy_factor(45, 45) == 1.0


def test_delay_and_area_factor_hand_evaluated():
    d65 = -53.3 * 1.1 ** 3 + 230.4 * 1.1 ** 2 - 333.9 * 1.1 + 178.6
    d14 = -40.66 * 0.8 ** 3 + 109.2 * 0.8 ** 2 - 100.6 * 0.8 + 35.92
    assert s.delay_factor(65, 14) == pytest.approx(d14 / d65, rel=1e-12)
    assert s.area_factor(45, 7) == 0.059
    assert s.area_factor(7, 45) == 17
    assert s.area_factor(180, 7) == 0.0032
    # interpolated node lies between its neighbours
    assert s.area_factor(45, 20) < s.area_factor(45, 28) < s.area_factor(45, 32)
    assert s.energy_factor(45, 20) < s.energy_factor(45, 28) < s.energy_factor(45, 32)


def test_newer_node_and_lower_voltage_cost_less():
    nodes = s.NODES_NM
    for flavor in s.FLAVORS:
        e = [s.energy_factor(180, n, flavor=flavor) for n in nodes]
        assert all(a > b for a, b in zip(e, e[1:])), (flavor, e)
    # latency: every newer node is faster than 45 nm and 180 nm is the slowest
    assert all(s.delay_factor(45, n) < 1 for n in nodes if n < 45)
    assert all(s.delay_factor(180, n) < 1 for n in nodes if n < 180)
    for n in nodes + (28, 12):
        for flavor in s.FLAVORS:
            lo, hi = s.valid_voltage_range(n, flavor)
            vs = np.linspace(lo, hi, 25)
            en = [s.energy_factor(n, n, lo, v, flavor) for v in vs]
            de = [s.delay_factor(n, n, lo, v, flavor) for v in vs]
            assert all(x > 0 for x in en + de)
            assert all(b > a for a, b in zip(en, en[1:])), (n, flavor, "energy must grow with V")
            assert all(b <= a + 1e-12 for a, b in zip(de, de[1:])), (n, flavor, "delay must not grow with V")
    assert s.delay_factor(7, 7, 0.7, 0.5) > 1        # lower voltage is slower


def test_out_of_range_lists_valid_range():
    with pytest.raises(InputError, match="7-180 nm"):
        s.energy_factor(45, 5)
    with pytest.raises(InputError, match="7-180 nm"):
        s.area_factor(250, 45)
    with pytest.raises(InputError, match=r"0\.42-0\.77 V"):
        s.energy_factor(45, 7, to_v=0.3)
    with pytest.raises(InputError, match="valid flavors: HP, LP"):
        s.delay_factor(45, 7, flavor="ULP")
    with pytest.raises(InputError, match="not a number"):
        s.nominal_vdd("seven")
