"""The recipes of docs/architecture.md, each done by a test: a CiM array as a data file, a parametric CiM
array as one plug-in file, a NonGEMM operator, a memory level in a100_like."""
import json
import textwrap

import pytest
import yaml

from cimscope import ir
from cimscope.arch import builders
from cimscope.arch.placements import ARRAY_DIR_ENV, primitives
from cimscope.cli import main
from cimscope.evaluate import gemm_op
from cimscope.pipeline.network import evaluate
from cimscope.plugins.base import REGISTRY
from cimscope.study import Study, placed_cached
from cimscope.workloads import save_workload


def tiny_workload() -> ir.Workload:
    relu = ir.Op(name="relu", target="aten.relu.default", module="act", op_class="activation", kind="elementwise",
                 dims={"A": 4096}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                            ir.Tensor("Outputs", "output", [[("A", 1)]], 8)],
                 elem_ops=4096, ops_per_element=1.0, bytes_read=4096, bytes_written=4096)
    return ir.Workload(model="tiny", ops=[gemm_op(64, 64, 64, name="fc1"), relu, gemm_op(64, 128, 64, name="fc2")])


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path / "mapper-cache"))


def test_a_cim_array_is_a_data_file(tmp_path, monkeypatch, capsys):
    """Recipe 1: one YAML file (here in a folder named by $CIMSCOPE_CIM_ARRAYS; shipped ones go in
    arch/data/cim_arrays/) makes a new CiM array a primitive of `cimscope compare`."""
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    (arrays / "sram_digital_64x64.yaml").write_text(
        "component: digital_cim_array\nattributes: {rows: 64, columns: 64}\n")
    monkeypatch.setenv(ARRAY_DIR_ENV, str(arrays))
    assert "sram_digital_64x64" in primitives()
    wdir = tmp_path / "tiny"
    save_workload(tiny_workload(), wdir)
    rc = main(["compare", "--workload", str(wdir), "--arch", "a100_sm", "--placements", "none,smem",
               "--primitives", "sram_digital_64x64,digital6T", "--workers", "1", "--cache-dir",
               str(tmp_path / "cache"), "--json"])
    assert rc == 0
    rows = {(r["placement"], r["primitive"]): r for r in json.loads(capsys.readouterr().out)["configurations"]}
    new, www = rows[("smem", "sram_digital_64x64")], rows[("smem", "digital6T")]
    assert not new["error"] and new["cim_arrays"] > 0 and new["energy_pJ"] > 0
    assert new["energy_pJ"] != www["energy_pJ"]          # a different array, different figures
    # a 64 x 64-bit array stores 512 B: equal area counts it against 512 B of SRAM
    cp = placed_cached("a100_sm", "smem", "sram_digital_64x64", 8, "www", str(arrays)).cim
    assert cp.primitive.array_bytes == 512 and cp.capacity_bytes == cp.arrays * 512


PLUGIN = textwrap.dedent('''
    """A toy parametric CiM array: R x C cells, one MAC per cell per wave of 4 cycles."""
    from cimscope.plugins.base import ActionCost, Attr, Estimate, Estimator, register


    @register
    class ToyCimArray(Estimator):
        component_name = "toy_cim_array"
        percent_accuracy = 10
        description = "toy CiM array for a recipe test"
        attributes = {"rows": Attr(32, "rows", kind=int, low=1, high=4096),
                      "columns": Attr(64, "columns", kind=int, low=1, high=4096),
                      "technology": Attr(45, "node (nm)", kind=float, low=1, high=1000),
                      "input_bits": Attr(8, "input bits", kind=int, low=1, high=32),
                      "weight_bits": Attr(8, "weight bits", kind=int, low=1, high=32)}

        def estimate(self):
            a = self.attrs
            macs = a["rows"] * (a["columns"] // a["weight_bits"])
            wave = 4e-9
            actions = {"mac": ActionCost(0.05, wave, "toy"), "mac_wave": ActionCost(0.05 * macs, wave, "toy"),
                       "write": ActionCost(1.0, 1e-9, "toy"), "read": ActionCost(0.0, 0.0, "toy")}
            return Estimate(self.component_name, dict(a), actions, 2.0 * a["rows"] * a["columns"], 0.0,
                            self.percent_accuracy, {"macs_per_wave": macs})
''')


def test_a_parametric_cim_array_is_one_plugin_file(tmp_path, monkeypatch):
    """Recipe 2: one plug-in file registering ``<name>_cim_array``, dropped in the plugins folder, is found
    (nothing else is edited: plugins/__init__.py discovers it) and makes ``parametric_<name>`` a placement
    option (its geometry, latency and energies flow into the CiM hierarchy). The plugins folder here is a
    temporary one added to the package's search path, so the source tree is not touched."""
    import sys

    import cimscope.plugins as plugins
    (tmp_path / "toy_cim.py").write_text(PLUGIN)
    monkeypatch.setattr(plugins, "__path__", [*plugins.__path__, str(tmp_path)])
    try:
        assert "toy_cim" in plugins.model_modules() and "parametric_toy" not in primitives()
        plugins.load_all(rescan=True)
        assert "parametric_toy" in primitives()
        study = Study(arch="a100_sm", placement="smem", primitive="parametric_toy")
        nr = evaluate(tiny_workload(), study)
        cim = nr.cim["primitive"]
        assert (cim["Rp"], cim["Cp"], cim["array_bytes"]) == (32, 8, 256)
        assert cim["latency_cycles"] == 4                    # 4 ns at a100_sm's 1 GHz
        fc1 = next(o for o in nr.ops if o.name == "fc1")
        assert fc1.unit == "cim" and fc1.energy_pJ_per_level["CiM_SMEM_MAC"] == pytest.approx(0.05 * 64 ** 3)
    finally:
        REGISTRY.pop("toy_cim_array", None)
        sys.modules.pop("cimscope.plugins.toy_cim", None)
    assert "parametric_toy" not in primitives()


def test_plugin_discovery_finds_exactly_the_model_modules():
    """Every shipped module that registers a model is discovered; infrastructure modules (base, common,
    scaling, the Accelergy/hwcomponents adapters) are not imported as models."""
    import cimscope.plugins as plugins
    assert plugins.model_modules() == ("ap", "cim_array", "cim_macro", "dram", "gpu_compute", "sram")
    plugins.load_all()
    assert {cls.__module__.rpartition(".")[2] for cls in REGISTRY.values()} == set(plugins.model_modules())


def test_a_nongemm_operator_needs_no_change_in_the_evaluation_layer():
    """Recipe 3 (evaluation side): a NonGEMM operator the taxonomy has just learnt (its class and ops per
    element in workloads/data/nongemm_taxonomy.yaml, its lowering rule in workloads/lower.py if it is
    structured) is costed on the SIMT lanes in every placement by the generic formula."""
    op = ir.Op(name="mish", target="aten.mish.default", module="act", op_class="activation", kind="elementwise",
               dims={"A": 1 << 16}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                              ir.Tensor("Outputs", "output", [[("A", 1)]], 8)],
               elem_ops=6 << 16, ops_per_element=6.0, bytes_read=1 << 16, bytes_written=1 << 16)
    wl = ir.Workload(model="m", ops=[op])
    for pl, pr in (("none", None), ("rf", "analog6T"), ("smem", "digital6T")):
        row = evaluate(wl, Study(arch="a100_sm", placement=pl, primitive=pr)).ops[0]
        assert row.unit == "simt" and row.cycles >= op.elem_ops / 64       # 64 FP32 lanes on a100_sm
        assert row.energy_pJ_per_level["SIMT"] > 0


def test_a_memory_level_in_a100_like_is_one_preset_edit(tmp_path, monkeypatch):
    """Recipe 4: a level added to arch/presets/a100_like.yaml (its entry in the architecture tree and its
    plug-in) appears in every result: here a 64 MB last-level SRAM between HBM and L2."""
    presets = tmp_path / "presets"
    presets.mkdir()
    doc = yaml.safe_load((builders.PRESET_DIR / "a100_like.yaml").read_text())
    system = doc["architecture"]["subtree"][0]
    l2 = next(lv for lv in system["local"] if lv["name"] == "L2")
    system["local"].insert(1, {"name": "LLC", "class": l2["class"],        # an SRAM like L2, 64 MB
                               "attributes": {"depth": 524288, "width": 1024, "n_banks": 64, "datawidth": 8,
                                              "read_bandwidth": 2048, "write_bandwidth": 2048}})
    plugins = doc["cimscope"].get("plugins")
    if plugins is not None and "L2" in plugins:                            # the preset names L2's plug-in
        plugins["LLC"] = dict(plugins["L2"])
    doc.pop("ERT", None)
    (presets / "a100_like.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setattr(builders, "PRESET_DIR", presets)
    placed_cached.cache_clear()
    monkeypatch.setattr(builders, "_load_preset_cached", builders._load_preset_cached.__wrapped__)
    monkeypatch.setattr(builders, "_build_arch_cached", builders._build_arch_cached.__wrapped__)
    try:
        for pl, pr in (("none", None), ("smem", "analog6T")):
            nr = evaluate(tiny_workload(), Study(arch="a100_like", placement=pl, primitive=pr))
            assert "LLC" in nr.energy_pJ_per_level and nr.energy_pJ_per_level["LLC"] > 0
    finally:
        placed_cached.cache_clear()


def test_a_nongemm_operator_is_one_taxonomy_data_file(tmp_path, monkeypatch):
    """Recipe 3 end to end: an elementwise operator the taxonomy does not know (simulated by a copy of the
    taxonomy data file without ``asinh``) is exported as class ``other`` with 1 op per element; adding it to
    that one data file (a class and its ops per element) makes the exporter class and cost it, and the
    evaluation layer costs the new arithmetic on the SIMT lanes with no other change."""
    import warnings

    import yaml as _yaml

    from cimscope.workloads import export_model, taxonomy

    factory = tmp_path / "asinh_model.py"
    factory.write_text("import torch\n\nclass M(torch.nn.Module):\n    def forward(self, x):\n"
                       "        return torch.asinh(x)\n\ndef make(batch=1):\n"
                       "    return M().eval(), (torch.randn(batch, 4096),)\n")
    shipped = _yaml.safe_load(taxonomy.DATA_FILE.read_text(encoding="utf-8"))

    def with_data(doc: dict):
        path = tmp_path / f"taxonomy_{len(list(tmp_path.glob('taxonomy_*')))}.yaml"
        path.write_text(_yaml.safe_dump(doc), encoding="utf-8")
        monkeypatch.setattr(taxonomy, "DATA_FILE", path)
        for fn in (taxonomy.load_taxonomy, taxonomy._table, taxonomy._composites):
            fn.cache_clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wl = export_model(f"{factory}:make")
        (op,) = [o for o in wl.ops if "asinh" in o.target]
        return wl, op

    try:
        def without(node):            # the data file as it would be before the operator was added
            if isinstance(node, dict):
                return {k: without(v) for k, v in node.items() if k != "asinh"}
            if isinstance(node, list):
                return [without(v) for v in node if v != "asinh"]
            return node
        unknown = without(shipped)
        _, before = with_data(unknown)
        assert before.op_class == "other"
        learnt = {**unknown, "nongemm_classes": {**unknown["nongemm_classes"],
                                                 "activation": unknown["nongemm_classes"]["activation"] + ["asinh"]},
                  "ops_per_element": {**unknown["ops_per_element"],
                                      "asinh": {"ops": 5, "formula": "log(x + sqrt(x*x + 1)): mul, add, sqrt, add, log"}}}
        wl, after = with_data(learnt)
        assert after.op_class == "activation" and after.ops_per_element == 5.0
        assert after.elem_ops == 5 * 4096
        row = evaluate(wl, Study(arch="a100_sm", placement="none")).ops[-1]
        assert row.unit == "simt" and row.energy_pJ_per_level["SIMT"] > 0
    finally:
        for fn in (taxonomy.load_taxonomy, taxonomy._table, taxonomy._composites):
            fn.cache_clear()
