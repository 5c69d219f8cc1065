"""workload.yaml round trip, the export cache, taxonomy spellings, factory models and capture errors."""
import json
import textwrap

import pytest
import yaml

import torch  # noqa: E402,F401  (a required dependency: fail, never skip)

import cimscope.workloads as wlmod  # noqa: E402
from cimscope.errors import ExportError, InputError, UnknownNameError  # noqa: E402
from cimscope.workloads import export_model, known_models, load_workload, save_workload  # noqa: E402
from cimscope.workloads.summary import summarize  # noqa: E402
from cimscope.workloads.taxonomy import classify  # noqa: E402

TINY = textwrap.dedent("""
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            y = torch.relu(self.conv(x))
            return self.fc(y.mean(dim=(2, 3)))

    def make(batch=1, image_size=8):
        return Tiny(), (torch.randn(batch, 3, image_size, image_size),)

    def bare():
        return Tiny()
""")

BRANCHY = textwrap.dedent("""
    import torch
    from torch import nn

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 16)

        def forward(self, x):
            y = self.fc(x)
            if y.sum() > 0:
                return y * 2
            return y - 1

    def make():
        return Branchy(), (torch.randn(1, 16),)
""")


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("models") / "tiny.py"
    p.write_text(TINY)
    return p


@pytest.mark.parametrize("spelling,expected", [
    ("aten.addmm.default", ("GEMM", True)), ("aten::addmm", ("GEMM", True)), ("addmm", ("GEMM", True)),
    ("aten.convolution.default", ("GEMM", True)), ("aten::relu_", ("activation", True)),
    ("relu", ("activation", True)), ("aten.hardtanh.default", ("activation", True)),
    ("aten._softmax.default", ("logit_computation", True)),
    ("aten.native_layer_norm.default", ("normalization", True)),
    ("aten._native_batch_norm_legit_no_training.default", ("normalization", True)),
    ("aten.mean.dim", ("arithmetic", True)), ("aten.add.Tensor", ("arithmetic", True)),
    ("aten.view.default", ("memory", True)), ("aten._unsafe_view.default", ("memory", True)),
    ("aten.clone.default", ("memory", True)), ("aten.expand.default", ("memory", True)),
    ("aten.t.default", ("memory", True)), ("aten.permute.default", ("memory", True)),
    ("aten.cat.default", ("memory", True)), ("aten.slice.Tensor", ("memory", True)),
    ("aten.select.int", ("memory", True)), ("aten.index.Tensor", ("memory", True)),
    ("aten.embedding.default", ("embedding", True)), ("aten::embedding", ("embedding", True)),
    ("aten.max_pool2d_with_indices.default", ("pooling", True)),
    ("aten.upsample_bilinear2d.vec", ("interpolation", True)),
    ("aten.scaled_dot_product_attention.default", ("GEMM", True)),
    ("torch.nn.modules.conv.Conv2d", ("GEMM", True)), ("torch.nn.functional.gelu", ("activation", True)),
    ("dropout", ("other", True)), ("aten.special_bessel_j0.default", ("other", False)), ("frobnicate", ("other", False)),
    # fused eager kernels the profiler shows (never torch.export): attention block, its masked softmax
    ("aten::_native_multi_head_attention", ("GEMM", True)), ("aten::_masked_softmax", ("logit_computation", True)),
])
def test_classify_spellings(spelling, expected):
    assert classify(spelling) == expected


def test_taxonomy_keeps_reference_classes():
    from cimscope.workloads.taxonomy import load_taxonomy
    from refpaths import REFERENCE
    tax = load_taxonomy()
    reference = yaml.safe_load((REFERENCE / "nongemm_taxonomy.yaml").read_text())["nongemm_classes"]
    assert tax["nongemm_classes"] == reference                # part 1 is the published table, unchanged
    for cls, names in tax["nongemm_classes"].items():
        for n in names:
            assert classify(n) == (cls, True)


def test_factory_export_and_workload_roundtrip(tiny_file, tmp_path):
    wl = export_model(f"{tiny_file}:make", image_size=8, weight_bits=4, act_bits=8)
    assert wl.meta["capture"] == "torch.export" and wl.meta["weight_bits"] == 4
    conv = wl.gemm_ops()[0]
    assert conv.dims == {"N": 1, "C": 3, "K": 4, "R": 3, "S": 3, "P": 8, "Q": 8}
    assert wl.total_macs() == 3 * 4 * 9 * 64 + 4 * 2
    path = save_workload(wl, tmp_path / "workload.yaml")
    again = load_workload(path)
    assert again.ops == wl.ops
    assert [o.shape_key() for o in again.ops] == [o.shape_key() for o in wl.ops]
    assert load_workload(tmp_path).model == wl.model                   # a folder holding workload.yaml
    # a bare nn.Module factory gets an image batch of the requested size
    bare = export_model(f"{tiny_file}:bare", image_size=8, batch=2)
    assert bare.gemm_ops()[0].dims["N"] == 2 and bare.meta["input_shapes"] == [[2, 3, 8, 8]]


def test_summary_shares(tiny_file):
    wl = export_model(f"{tiny_file}:make", image_size=8)
    s = summarize(wl)
    gemm, non = s["gemm_vs_nongemm"]["GEMM"], s["gemm_vs_nongemm"]["NonGEMM"]
    assert gemm["macs"] == wl.total_macs() and non["macs"] == 0
    assert gemm["arith_ops"] == 2 * wl.total_macs()
    assert gemm["share_arith_ops"] + non["share_arith_ops"] == pytest.approx(1.0)
    assert s["per_class"]["GEMM"]["count"] == 2
    assert s["totals"]["count"] == len(wl.ops)
    assert s["per_operator"]["aten.relu.default"]["elem_ops"] == 4 * 64
    json.dumps(s)


def test_cache_reuses_and_keys_on_options(tiny_file, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = export_model(f"{tiny_file}:make", image_size=8, cache_dir=str(cache))
    files = list(cache.glob("*.json"))
    assert len(files) == 1 and not list(cache.glob(".*.tmp"))

    def boom(*a, **k):
        raise AssertionError("build_model called although the export is cached")
    monkeypatch.setattr(wlmod, "build_model", boom)
    monkeypatch.setattr(wlmod, "build", boom)
    again = export_model(f"{tiny_file}:make", image_size=8, cache_dir=str(cache))
    assert again.ops == first.ops and again.meta == json.loads(json.dumps(first.meta))
    key = wlmod.cache_key
    base = dict(batch=1, image_size=8, seq_len=128, weight_bits=8, act_bits=8)
    k0 = key(f"{tiny_file}:make", **base)
    assert all(key(f"{tiny_file}:make", **{**base, opt: val}) != k0
               for opt, val in (("batch", 2), ("image_size", 16), ("seq_len", 64), ("weight_bits", 4),
                                ("act_bits", 4)))


def test_unknown_model_lists_known_ones():
    with pytest.raises(UnknownNameError) as exc:
        export_model("resnet_nineteen")
    msg = str(exc.value)
    assert "resnet_nineteen" in msg
    for name in ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16", "swin_t",
                 "bert-base-uncased", "gpt2", "llama-tiny"):
        assert name in msg and name in known_models()


def test_bad_options():
    with pytest.raises(InputError, match=r"--weight-bits: 0 is invalid.*\[1, 64\]"):
        export_model("resnet18", weight_bits=0)
    with pytest.raises(InputError, match="capture mode"):
        export_model("resnet18", capture="magic")


def test_untraceable_model_names_construct_and_what_to_try(tmp_path):
    f = tmp_path / "branchy.py"
    f.write_text(BRANCHY)
    with pytest.raises(ExportError) as exc:
        export_model(f"{f}:make")
    msg = str(exc.value)
    assert "torch.export failed" in msg and "torch.fx symbolic_trace failed" in msg
    assert "if y.sum() > 0:" in msg and f"{f}:12" in msg                 # the construct and where it is
    assert "control flow" in msg
    assert "torch.where" in msg and "fixed shapes" in msg and "--capture" in msg   # what to try


def test_missing_factory_function(tiny_file):
    with pytest.raises(UnknownNameError, match="nosuch.*valid factorys: bare, make"):
        export_model(f"{tiny_file}:nosuch")
    with pytest.raises(InputError, match="does not exist"):
        export_model("no/such/file.py:make")


def test_fx_fallback_used_when_export_fails(tmp_path):
    # Boolean-mask indexing has a data-dependent output size: torch.export can only give it a symbolic size,
    # so capture falls back to torch.fx, whose ShapeProp runs the module and records the concrete shape.
    f = tmp_path / "masked.py"
    f.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Masked(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                y = self.fc(x)
                return y[y > 0]

        def make():
            torch.manual_seed(0)
            return Masked(), (torch.randn(3, 8),)
    """))
    wl = export_model(f"{f}:make")
    assert wl.meta["capture"] == "torch.fx"
    assert wl.meta["capture_notes"] and "torch.export" in wl.meta["capture_notes"][0]
    assert "data-dependent" in wl.meta["capture_notes"][0]
    assert wl.gemm_ops()[0].dims == {"M": 3, "N": 4, "K": 8}
    assert [o.target for o in wl.ops] == ["aten.linear.default", "aten.gt.default", "aten.index.Tensor"]
    yaml.safe_dump(json.loads(json.dumps(wl.to_dict())))


ODD = textwrap.dedent("""
    import torch
    from torch import nn

    class Two(nn.Module):
        def forward(self, x, y):
            return x + y

    def no_inputs():
        return Two(), None

    def number():
        return Two(), 5

    def empty():
        return Two(), ()

    def one_of_two():
        return Two(), (torch.randn(2, 3),)

    def fixed_batch():
        return Two(), (torch.randn(1, 3), torch.randn(1, 3))
""")


def test_factory_returning_odd_inputs_is_a_clear_error(tmp_path, capfd):
    f = tmp_path / "odd.py"
    f.write_text(ODD)
    for factory, says in (("no_inputs", "example inputs are NoneType"), ("number", "example inputs are int"),
                          ("empty", "hold no tensor")):
        with pytest.raises(ExportError, match=says):
            export_model(f"{f}:{factory}")
    # the factory makes batch-1 inputs and takes no batch: --batch 4 would label a batch-1 workload batch 4
    with pytest.raises(InputError, match="--batch 4 cannot be applied.*no 'batch' argument"):
        export_model(f"{f}:fixed_batch", batch=4)
    assert export_model(f"{f}:fixed_batch").batch == 1
    # a call with the wrong number of inputs: the message says what is missing, points at no library frame
    # (inspect.py binding the arguments) and nothing prints a traceback
    capfd.readouterr()
    with pytest.raises(ExportError) as exc:
        export_model(f"{f}:one_of_two")
    msg = str(exc.value)
    assert "missing a required argument: 'y'" in msg and "inspect.py" not in msg
    assert "Traceback" not in capfd.readouterr().err


def test_unwritable_cache_is_an_input_error(tiny_file, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(InputError, match="cannot write the export cache"):
        export_model(f"{tiny_file}:make", image_size=8, cache_dir=str(not_a_folder / "cache"))
