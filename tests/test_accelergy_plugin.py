"""Accelergy v0.4 adapter, exercised the way Accelergy loads and calls Python plug-ins.

The fake loader below follows accelergy/plug_in_path_to_obj.py and plug_in_interface/estimator_wrapper.py
(v0.4): load each python_plug_ins file with SourceFileLoader("python_plug_in", path); take the classes whose
__module__ is that module and that subclass Estimator; read `name`, `percent_accuracy_0_to_100`, the explicit
__init__ parameters from __init__.__code__ (no default = required); instantiate with the matching component
attributes; call __ListLoggable__init__(); call get_area(), leak(global_cycle_seconds) and the
@actionDynamicEnergy methods by __name__; convert Estimation objects to SI values.
"""
import inspect
import warnings
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest
import yaml

from cimscope.errors import InputError
from cimscope.plugins import accelergy_adapter as adapter
from cimscope.plugins.base import estimate

PLUGIN_DIR = Path(adapter.__file__).resolve().parent


class FakeAccelergy:
    def __init__(self, python_plug_ins: list[Path]):
        self.estimators = []
        for path in python_plug_ins:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                module = SourceFileLoader("python_plug_in", str(path)).load_module()
            for name in dir(module):
                x = getattr(module, name)
                if inspect.isclass(x) and x.__module__ == module.__name__ \
                        and issubclass(x, adapter.AccelergyEstimator) and x is not adapter.AccelergyEstimator:
                    self.estimators.append(x)

    @staticmethod
    def init_args(cls):
        code = cls.__init__.__code__
        args = code.co_varnames[1:code.co_argcount]
        n_def = len(cls.__init__.__defaults__ or ())
        return args[:len(args) - n_def], args[len(args) - n_def:]

    def supporting(self, class_name, attrs):
        for cls in self.estimators:
            names = [cls.name] if isinstance(cls.name, str) else cls.name
            required, _ = self.init_args(cls)
            if class_name in names and all(attrs.get(a) is not None for a in required):
                yield cls

    def query(self, class_name, attrs, action=None, action_args=None):
        best = max(self.supporting(class_name, attrs), key=lambda c: c.percent_accuracy_0_to_100)
        required, optional = self.init_args(best)
        obj = best(**{k: v for k, v in attrs.items() if k in required or k in optional})
        obj.__ListLoggable__init__()
        if action is None:
            return obj.get_area().get_value()
        if action == "leak":
            return obj.leak(**action_args).get_value()
        methods = [getattr(best, a) for a in dir(best) if getattr(getattr(best, a), "_is_accelergy_action", False)]
        method = next(m for m in methods if m.__name__ == action)
        return method(obj).get_value()


@pytest.fixture(scope="module")
def accelergy():
    return FakeAccelergy([PLUGIN_DIR / "accelergy_plugin.py"])


def test_every_model_has_a_valid_estimator_class(accelergy):
    from cimscope.plugins.accelergy_adapter import unique_models
    names = {n for cls in accelergy.estimators for n in ([cls.name] if isinstance(cls.name, str) else cls.name)}
    for model in unique_models():
        assert model.component_name in names
    for cls in accelergy.estimators:
        assert isinstance(cls.name, list) and all(isinstance(n, str) for n in cls.name)
        assert 0 <= cls.percent_accuracy_0_to_100 <= 100
        assert not inspect.isabstract(cls)
    assert {"associative_processor", "ap_1d", "ap_2d"} <= names


def test_numbers_through_the_accelergy_interface(accelergy):
    # WWW analog6T at 45 nm, with Accelergy's usual technology string
    mac_J = accelergy.query("cim_macro", {"primitive": "analog6T", "technology": "45nm",
                                          "global_cycle_seconds": 1e-9}, "mac")
    assert mac_J == pytest.approx(0.15e-12)
    assert accelergy.query("cim_primitive", {"primitive": "digital8T"}, "write") == pytest.approx(1.7e-12)
    area_m2 = accelergy.query("cim_macro", {"primitive": "analog6T"})
    assert area_m2 == pytest.approx(estimate("cim_macro", {"primitive": "analog6T"}).area_um2 * 1e-12)
    assert accelergy.query("sram_buffer", {"capacity_bytes": 262144, "banks": 2}, "read") == \
        pytest.approx(124.70e-12)
    assert accelergy.query("tensor_core_mac", {"technology": 7}, "mac") == pytest.approx(
        estimate("tensor_core_mac", {"technology": 7}).actions["mac"].energy_pJ * 1e-12)
    assert accelergy.query("dram", {}, "leak", {"global_cycle_seconds": 1e-9}) == 0.0
    ap = estimate("ap_2d", {"technology": 16}).actions["add"].energy_pJ
    assert accelergy.query("ap_2d", {"technology": "16nm"}, "add") == pytest.approx(ap * 1e-12)


def test_timeloop_storage_attributes_reach_the_model(accelergy):
    """Accelergy passes a primitive all attributes of its Timeloop component; storage levels are declared
    with depth/width/n_banks (plus datawidth etc., which the plug-in ignores) and must not fall back to the
    model's default capacity."""
    from refpaths import REFERENCE
    # WWW's shared memory as its Timeloop architecture declares it: depth 8192 x width 256, 2 banks
    smem = {"depth": 8192, "width": 256, "n_banks": 2, "datawidth": 8, "technology": "45nm"}
    assert accelergy.query("sram_buffer", smem, "read") == pytest.approx(124.70e-12)
    assert accelergy.query("sram_buffer", smem) == pytest.approx(
        estimate("sram_buffer", {"capacity_bytes": 262144, "banks": 2}).area_um2 * 1e-12)
    # cimscope's own names win over Timeloop's
    assert accelergy.query("sram_buffer", {**smem, "width_bits": 8}, "read") == pytest.approx(
        estimate("sram_buffer", {"capacity_bytes": 262144, "banks": 2, "width_bits": 8}).actions["read"]
        .energy_pJ * 1e-12)
    # a 256-bit Timeloop DRAM: the same 2048 pJ per access as Accelergy's own DRAM in a real run
    ert = yaml.safe_load((REFERENCE / "timeloop_cases" / "03-conv1d+oc-3level-no-bypass" /
                          "timeloop-model.ERT.yaml").read_text())
    main = next(t for t in ert["ERT"]["tables"] if "MainMemory" in t["name"])
    read_pJ = next(a["energy"] for a in main["actions"] if a["name"] == "read")
    assert accelergy.query("dram", {"width": 256, "datawidth": 8}, "read") == pytest.approx(read_pJ * 1e-12)
    with pytest.raises(InputError, match="needs width"):
        accelergy.query("sram_buffer", {"depth": 8192}, "read")


def test_required_attribute_and_bad_values(accelergy):
    # Accelergy skips an estimator whose required __init__ arguments are missing
    assert list(accelergy.supporting("cim_macro", {"technology": 45})) == []
    with pytest.raises(InputError, match="analog6T, analog8T"):
        accelergy.query("cim_macro", {"primitive": "analog9T"}, "mac")


def test_estimator_yaml_points_at_the_plugin_file():
    spec = yaml.safe_load((PLUGIN_DIR / "cimscope.estimator.yaml").read_text())
    assert "version" in spec
    for rel in spec["python_plug_ins"]:
        assert (PLUGIN_DIR / rel).resolve() == (PLUGIN_DIR / "accelergy_plugin.py").resolve()


def test_stand_in_mimics_the_v04_interface():
    if adapter.ACCELERGY_INSTALLED:
        pytest.skip("real Accelergy installed: the stand-in is not used")
    est = adapter.Estimation(3.0, "p")
    assert est.get_value() == pytest.approx(3e-12)
    assert adapter.Estimation(2.0, "u^2").get_value() == pytest.approx(2e-12)

    @adapter.actionDynamicEnergy
    def mac(self):
        return 1

    assert mac._is_accelergy_action
    assert inspect.isabstract(adapter.AccelergyEstimator)


def test_a100_like_through_accelergy_compound_components_gives_the_builder_ert(accelergy):
    """As Accelergy 0.4 prices a100_like as written (classes hbm_DRAM / sram_buffer_storage, compound components
    of cimscope.arch.builders, technology "7nm" inherited from the top attributes): each compound's one
    subcomponent is the cimscope primitive and receives the attributes its class binds (Accelergy 0.4 passes
    a subcomponent nothing else; null ones are dropped); energies equal the ERT cimscope builds for the same
    preset."""
    from cimscope.arch import build_arch
    from cimscope.arch.builders import compound_components
    from cimscope.timeloop.binaries import architecture_doc, dump_yaml
    arch = build_arch("a100_like")
    doc = yaml.safe_load(dump_yaml(architecture_doc(arch)))["architecture"]["subtree"][0]
    compounds = {c["name"]: c for c in compound_components()["compound_components"]["classes"]}
    levels = {lv.name: lv for lv in arch.levels}
    for comp in doc["local"][:-1]:
        name = comp["name"].split("[")[0]
        cc = compounds[comp["class"]]
        compound_attrs = {**cc["attributes"], **doc["attributes"], **comp["attributes"]}
        assert compound_attrs["technology"] == "7nm"
        bound = cc["subcomponents"][0]["attributes"]
        attrs = {k: compound_attrs[v] for k, v in bound.items() if compound_attrs.get(v) is not None}
        sub = cc["subcomponents"][0]["class"]
        for action in cc["actions"]:
            sub_action = action["subcomponents"][0]["actions"][0]["name"]
            if sub_action == "leak":
                continue
            got = accelergy.query(sub, attrs, sub_action) * 1e12
            assert got == pytest.approx(levels[name].action_energy_pJ[action["name"]], rel=1e-9), (name, action)
    mac = doc["local"][-1]
    got = accelergy.query(mac["class"], {**doc["attributes"], **mac["attributes"]}, "compute") * 1e12
    assert got == pytest.approx(arch.compute.action_energy_pJ["compute"], rel=1e-9)


def test_docs_accelergy_example_is_quoted_as_accelergy_04_needs():
    """Accelergy 0.4 evaluates unquoted strings (digital6T, 7nm) as Python expressions and fails."""
    from test_timeloop_files import unquoted_attribute_strings
    text = (PLUGIN_DIR.parent / "docs" / "plugins.md").read_text()
    blocks = text.split("```yaml")[1:]
    examples = [b.split("```")[0] for b in blocks if "attributes" in b]
    assert examples
    for ex in examples:
        assert unquoted_attribute_strings(ex) == [], ex


def test_plugin_is_registered_one_way_only():
    """setup.py installs no copy into Accelergy's estimation_plug_ins folder (with the config line, Accelergy
    loaded every estimator twice)."""
    setup = (PLUGIN_DIR.parent / "setup.py").read_text()
    assert "data_files=[]" in setup and "estimation_plug_ins/cimscope" not in setup
