"""Full-size model exports: MACs against the published figures, classification of transformer operators,
valid Timeloop problems. Each model is exported once per session (shared fixture)."""
import warnings
from pathlib import Path

import pytest
import yaml

import torch  # noqa: E402,F401  (a required dependency: fail, never skip)
import torchvision  # noqa: E402,F401  (a required dependency: fail, never skip)

from cimscope.workloads import export_model  # noqa: E402
from cimscope.workloads.lower import UnclassifiedOperatorWarning  # noqa: E402
from cimscope.workloads.problem import op_to_problem, validate_problem  # noqa: E402
from refpaths import REFERENCE as REFERENCE_DIR  # noqa: E402

PACKAGED = Path(__file__).resolve().parents[1] / "workloads" / "data" / "reference_model_macs.yaml"
SHARED = REFERENCE_DIR / "model_macs.yaml"
REFERENCE = yaml.safe_load(PACKAGED.read_text())["gmacs"]
VISION = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "vit_b_16"]

_cache: dict = {}


def exported(name):
    """Export once per session, recording the warnings raised while exporting."""
    if name not in _cache:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wl = export_model(name)
        _cache[name] = (wl, [w for w in caught if issubclass(w.category, UnclassifiedOperatorWarning)])
    return _cache[name]


def test_packaged_reference_matches_shared_copy():
    assert yaml.safe_load(SHARED.read_text())["gmacs"] == REFERENCE


@pytest.mark.slow
@pytest.mark.parametrize("name", VISION)
def test_gemm_macs_match_published(name):
    wl, _ = exported(name)
    gmacs = sum(o.macs for o in wl.gemm_ops()) / 1e9
    assert gmacs == pytest.approx(REFERENCE[name], rel=0.02), f"{name}: {gmacs:.4f} GMAC vs {REFERENCE[name]}"
    assert wl.meta["capture"] == "torch.export"
    assert wl.meta["image_size"] == 224 and wl.batch == 1
    # all GEMM MACs sit in conv/linear/attention Ops with positive sizes, and every op has a module path
    assert all(o.kind in ("conv", "gemm") for o in wl.gemm_ops())
    assert sum(1 for o in wl.ops if o.module) >= 0.5 * len(wl.ops)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vit_b_16"])
def test_every_problem_is_valid_timeloop(name):
    wl, _ = exported(name)
    for op in wl.ops:
        assert validate_problem(op_to_problem(op)) == [], op.name


@pytest.mark.slow
def test_mobilenet_depthwise_conv_is_grouped():
    wl, _ = exported("mobilenet_v2")
    dw = [o for o in wl.gemm_ops() if o.attrs.get("groups", 1) > 1]
    assert dw, "mobilenet_v2 has depthwise convolutions"
    for o in dw:
        assert o.dims["G"] == o.attrs["groups"] and o.dims["C"] == 1 and o.dims["K"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert-base-uncased", "gpt2"])
def test_transformers_classified_or_warned(name):
    wl, caught = exported(name)
    others = [o for o in wl.ops if o.op_class == "other"]
    text = " ".join(str(w.message) for w in caught)
    for o in others:
        assert o.target in text and o.name in text, f"{o.name} ({o.target}) is 'other' but not in a warning"
    if not others:
        assert not caught
    # attention: 12 layers x (QK^T, AV) GEMMs with activation weights, the rest static
    dyn = [o for o in wl.gemm_ops() if o.attrs.get("dynamic_weight")]
    assert len(dyn) == 24 and {o.attrs["part"] for o in dyn} == {"qk", "av"}
    assert sum(1 for o in wl.ops if o.op_class == "logit_computation") == 36
    assert sum(1 for o in wl.ops if o.op_class == "normalization") == 25     # 2 per layer + 1
    # 12 layers x (4 d^2 + 2 d*4d) x seq + attention 2 x seq^2 x d per layer; d = 768, seq = 128
    d, s = 768, 128
    expected = 12 * (4 * d * d + 8 * d * d) * s + 12 * 2 * s * s * d
    if name == "bert-base-uncased":
        expected += d * d                                              # pooler dense on the [CLS] token
    assert sum(o.macs for o in wl.gemm_ops()) == expected
    for op in wl.ops:
        assert validate_problem(op_to_problem(op)) == [], op.name


@pytest.mark.slow
def test_llama_tiny_exports_with_gqa():
    wl, _ = exported("llama-tiny")
    qk = [o for o in wl.gemm_ops() if o.attrs.get("part") == "qk"]
    assert len(qk) == 2                                       # 2 layers
    assert qk[0].dims == {"B": 4, "M": 128, "N": 128, "K": 64}   # 4 heads of 256/4
    k_proj = [o for o in wl.gemm_ops() if o.module == "layers.0.self_attn.k_proj"]
    assert k_proj[0].dims == {"M": 128, "N": 2 * 64, "K": 256}     # 2 key/value heads (grouped-query)
    q_proj = [o for o in wl.gemm_ops() if o.module == "layers.0.self_attn.q_proj"]
    assert q_proj[0].dims == {"M": 128, "N": 4 * 64, "K": 256}
    assert sum(1 for o in wl.ops if o.op_class == "other") == 0
