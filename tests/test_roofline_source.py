"""The A100 roofline reads its peaks from the same source as the GPU execution model (plugins/data/a100.yaml,
the NVIDIA A100 whitepaper figures): no second copy of the numbers."""
import pytest
import yaml

from cimscope.evaluate import gemm_op
from cimscope.gpu.execution import a100_file, a100_params
from cimscope.gpu.roofline import peak_ops_per_s, roofline_s, unique_bytes


def test_peaks_are_the_whitepaper_figures_of_the_one_file():
    a = yaml.safe_load(a100_file().read_text())["a100_sxm4_40gb"]
    assert peak_ops_per_s() == {4: a["peak_dense_int4_tops"] * 1e12, 8: a["peak_dense_int8_tops"] * 1e12,
                                16: a["peak_dense_fp16_tflops"] * 1e12} == {4: 1248e12, 8: 624e12, 16: 312e12}
    assert a100_params().hbm_bytes_per_s == a["hbm2_bandwidth_GBps"] * 1e9 == 1555e9


def test_roofline_by_hand():
    big = gemm_op(1024, 1024, 1024, bits=8)            # compute bound: 2 * 1024^3 / 624 Tops
    assert roofline_s(big) == pytest.approx(2 * 1024 ** 3 / 624e12)
    thin = gemm_op(1, 4096, 4096, bits=16)             # memory bound: unique bytes / 1555 GB/s
    assert roofline_s(thin) == pytest.approx(unique_bytes(thin) / 1555e9)
