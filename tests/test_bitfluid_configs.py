"""Precision configurations: HAWQ-V3 names and data, YAML files, binding to a model (mismatches name the
layers), static mixed precision per layer, dynamic precision = sum of its inferences (no reconfiguration)."""
from pathlib import Path

import pytest
import yaml

from cimscope import bitfluid as bf
from cimscope.errors import InputError
from cimscope.ir import Op, Workload

from refpaths import REFERENCE
from test_bitfluid_mapping import small_arch

SHARED = REFERENCE / "hawq_v3_resnet18.yaml"


def resnet18_like():
    """The GEMM layers of torchvision resnet18 in execution order (tiny shapes), with a ReLU after each."""
    names = ["conv1"]
    for s in range(1, 5):
        for u in range(2):
            names += [f"layer{s}.{u}.conv1", f"layer{s}.{u}.conv2"]
            if s > 1 and u == 0:
                names.append(f"layer{s}.0.downsample.0")
    ops = []
    for n in names:
        ops.append(Op(name=n, target="aten.convolution.default", module=n, op_class="GEMM", kind="conv",
                      dims={"N": 1, "C": 2, "K": 2, "R": 3, "S": 3, "P": 2, "Q": 2}, tensors=[], macs=144,
                      attrs={"groups": 1}))
        ops.append(Op(name=n + ".relu", target="aten.relu.default", module=n, op_class="activation",
                      kind="elementwise", dims={"A": 8}, tensors=[]))
    ops.append(Op(name="fc", target="aten.linear.default", module="fc", op_class="GEMM", kind="gemm",
                  dims={"M": 1, "N": 10, "K": 8}, tensors=[], macs=80))
    return Workload("resnet18", ops)


def test_hawq_names_and_packaged_data():
    assert bf.hawq_to_module("s1u2c2") == "layer1.1.conv2"
    assert bf.hawq_to_module("s3u1ds") == "layer3.0.downsample.0"
    cfgs = bf.hawq_v3_configs()
    assert [c.name for c in cfgs] == ["uniform8", "latency_0.75", "latency_0.5", "latency_0.25", "uniform4"]
    assert [c.meta["top1"] for c in cfgs] == [71.56, 70.40, 70.34, 68.56, 68.45]
    lat = cfgs[2]   # latency_0.5: bits [8,8,8,8,8,4,8,8,4,8,8,8,4,4,8,4,8,4,4]
    assert lat.layers["layer2.0.conv2"] == bf.LayerPrecision(4, 4)
    assert lat.layers["layer2.0.downsample.0"] == bf.LayerPrecision(8, 8)
    assert lat.layers["layer4.1.conv2"] == bf.LayerPrecision(4, 4) and len(lat.layers) == 19
    # the packaged copy carries the reference data unchanged (the reference must exist: fail, never skip)
    ref = yaml.safe_load(SHARED.read_text())
    from importlib import resources
    pkg = yaml.safe_load((resources.files("cimscope.arch") / "data" / "hawq_v3_resnet18.yaml").read_text())
    assert pkg == ref


def test_bind_hawq_first_last_8bit_and_static_mixed_precision():
    wl, arch = resnet18_like(), small_arch()
    cfgs = {c.name: c for c in bf.hawq_v3_configs()}
    b = bf.bind(cfgs["uniform4"], wl)
    assert b["conv1"] == b["fc"] == bf.LayerPrecision(8, 8) and b["layer1.0.conv1"] == bf.LayerPrecision(4, 4)
    u8 = bf.evaluate(wl, cfgs["uniform8"], arch)
    l5 = bf.evaluate(wl, cfgs["latency_0.5"], arch)
    by8 = {lc.op_name: lc for lc in u8.layers}
    for lc in l5.layers:                    # only the layers HAWQ put at 4 bits change cost
        if lc.op_class == "GEMM":
            if bf.bind(cfgs["latency_0.5"], wl)[lc.module].w_bits == 8:
                assert lc.energy_pJ["mac"] == by8[lc.op_name].energy_pJ["mac"]
            else:
                assert lc.energy_pJ["mac"] < by8[lc.op_name].energy_pJ["mac"]
    assert l5.energy_J < u8.energy_J and l5.latency_s < u8.latency_s


def test_mismatched_configuration_names_the_layers(tmp_path):
    wl = resnet18_like()
    f = tmp_path / "c.yaml"
    f.write_text("layers:\n  conv1: {w_bits: 8, a_bits: 8}\n  layer1.0.conv1: 4\n  layer9.9.conv9: 4\n")
    cfg, _ = bf.load_configs(str(f))
    with pytest.raises(InputError) as e:
        bf.bind(cfg[0], wl)
    msg = str(e.value)
    assert "missing from the configuration: layer1.0.conv2, layer1.1.conv1" in msg and "fc" in msg
    assert "not in the model: layer9.9.conv9" in msg and "lists 3 layer(s), the model has 21" in msg
    # HAWQ's 19 ResNet18 layers on a model with other layers: both sides listed
    other = Workload("alexnet", [Op(name="f", target="aten.convolution.default", module="features.0",
                                    op_class="GEMM", kind="conv", dims={"N": 1, "C": 1, "K": 1, "R": 1, "S": 1,
                                                                        "P": 1, "Q": 1}, tensors=[], macs=1)])
    with pytest.raises(InputError, match=r"not in the model: layer1\.0\.conv1"):
        bf.bind(bf.hawq_v3_configs()[0], other)


def test_yaml_formats_and_errors(tmp_path):
    wl = resnet18_like()
    multi = tmp_path / "m.yaml"
    multi.write_text(yaml.safe_dump({
        "configs": {"lo": {"default": {"w_bits": 2, "a_bits": 4}, "first_last_8bit": True, "top1": 60.0},
                    "hi": {"default": 8, "layers": {"s1u1c1": {"w_bits": 6, "a_bits": 6}}}},
        "dynamic": ["lo", "hi", "lo"]}))
    cfgs, dyn = bf.load_configs(str(multi))
    by = {c.name: c for c in cfgs}
    assert dyn == ["lo", "hi", "lo"] and by["lo"].meta["top1"] == 60.0
    assert bf.bind(by["lo"], wl)["layer2.1.conv1"] == bf.LayerPrecision(2, 4)
    assert bf.bind(by["lo"], wl)["fc"] == bf.LayerPrecision(8, 8)
    assert bf.bind(by["hi"], wl)["layer1.0.conv1"] == bf.LayerPrecision(6, 6)
    assert bf.bind(by["hi"], wl)["fc"] == bf.LayerPrecision(8, 8)
    bad = tmp_path / "b.yaml"
    for text, match in [("layers: {conv1: {w_bits: 0, a_bits: 8}}",
                         r"w_bits: 0 is invalid .*valid: an integer in \[1, 32\]"),
                        ("layers: {conv1: {w_bits: 4}}", "needs both w_bits and a_bits"),
                        ("layers: {conv1: {w_bits: 4, a_bits: 4, x: 1}}", "unknown key"),
                        ("configs: {a: {layerz: {}}}", "unknown key"),
                        ("[1, 2", "not valid YAML")]:
        bad.write_text(text)
        with pytest.raises(InputError, match=match):
            bf.load_configs(str(bad))
    with pytest.raises(InputError, match="unknown precision configuration 'int'"):
        bf.load_configs("int")
    with pytest.raises(InputError, match="given twice"):
        bf.load_configs("int8,int8")


def test_dynamic_precision_is_the_sum_of_its_inferences():
    wl, arch = resnet18_like(), small_arch()
    (i8, i4), _ = bf.load_configs("int8,int4")
    e8, e4 = bf.evaluate(wl, i8, arch), bf.evaluate(wl, i4, arch)
    dyn = bf.evaluate_dynamic(wl, bf.pick_sequence([i8, i4], ["int8", "int4", "int8"]), arch)
    assert dyn.energy_J == pytest.approx(2 * e8.energy_J + e4.energy_J, rel=1e-12)
    assert dyn.latency_s == pytest.approx(2 * e8.latency_s + e4.latency_s, rel=1e-12)
    s = dyn.summary()
    assert s["reconfiguration_J"] == 0 and s["sequence"] == ["int8", "int4", "int8"]
    assert s["average_energy_J"] == pytest.approx(dyn.energy_J / 3)
    assert [p["energy_J"] for p in s["per_inference"]] == [e8.energy_J, e4.energy_J, e8.energy_J]
    with pytest.raises(InputError, match="unknown configuration"):
        bf.pick_sequence([i8], ["int3"])


def test_weights_beyond_the_map_capacity_stream_from_dram():
    from cimscope.arch import bf_imna
    # the preset's DRAM: LPDDR4 of the WWW baseline, 512 pJ per access of its 64-bit channel = 8 pJ/bit
    www = yaml.safe_load((REFERENCE / "a100.yaml").read_text())["www_tensor_core_like_sm"]
    per_bit = www["energy_per_access_pJ"]["dram"]["read"] / www["dram"]["width_bits"]
    assert per_bit == 8.0 and bf_imna.load_config().dram_pJ_per_bit == per_bit
    # one MAP of 16 rows x 64 bits = 1024 bits; resnet18_like at int8 holds 20 convs x 36 weights + fc 80
    # weights = 800 weights = 6400 bits -> 5376 bits stream from DRAM per inference
    arch = small_arch(hierarchy={"clusters": 1, "cluster": {"caps": 2, "maps": 1},
                                 "cap": {"variant": "2d", "rows": 64, "columns": 64},
                                 "map": {"variant": "1d", "rows": 16, "columns": 64}},
                      dram={"pJ_per_bit": per_bit, "bandwidth_GBps": 32})
    (i8,), _ = bf.load_configs("int8")
    nc = bf.evaluate(resnet18_like(), i8, arch)
    assert nc.dram_bits == 5376
    assert sum(lc.energy_pJ.get("dram", 0.0) for lc in nc.layers) == pytest.approx(5376 * 8.0)
    assert sum(lc.time_s.get("dram", 0.0) for lc in nc.layers) == pytest.approx(5376 / (32 * 8e9))
