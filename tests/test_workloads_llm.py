"""Language models by name: published configs, meta-device builds, prefill/decode phases, position limits,
mixture-of-experts GEMMs (tiny configs keep these fast; full-size exports are in benchmarks/)."""
import math
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from cimscope.errors import InputError  # noqa: E402
from cimscope.workloads import export_model, known_models  # noqa: E402
from cimscope.workloads.configs import HF_MODELS  # noqa: E402
from cimscope.workloads.hf import PositionLimitWarning, build_hf, make_config  # noqa: E402


def test_named_models_are_known_with_sources():
    names = set(known_models())
    for n in ("llama-2-7b", "llama-3-8b", "mistral-7b", "mixtral-8x7b", "gpt2-large", "gpt2-xl",
              "segformer-b0", "segformer-b1", "segformer-b3", "segformer-b5", "detr-resnet-50",
              "maskformer-swin-base", "maskrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn", "swin_b", "vit_h_14"):
        assert n in names
    for n, spec in HF_MODELS.items():
        assert spec.source, n


@pytest.mark.parametrize("name,fields", [
    ("llama-2-7b", dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                        num_key_value_heads=32, vocab_size=32000)),
    ("llama-3-8b", dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_key_value_heads=8,
                        vocab_size=128256)),
    ("mistral-7b", dict(intermediate_size=14336, num_key_value_heads=8, vocab_size=32000, sliding_window=4096)),
    ("mixtral-8x7b", dict(num_local_experts=8, num_experts_per_tok=2, intermediate_size=14336,
                          num_hidden_layers=32)),
    ("gpt2-xl", dict(n_embd=1600, n_layer=48, n_head=25)),
])
def test_published_config_values(name, fields):
    cfg = make_config(HF_MODELS[name])
    for k, v in fields.items():
        assert getattr(cfg, k) == v, k


def test_meta_build_holds_no_weight_memory():
    module, inputs, _ = build_hf("llama-2-7b", batch=1, seq_len=16, image_size=None)
    params = list(module.parameters())
    assert sum(p.numel() for p in params) > 6.5e9                     # 6.7 B parameters, as shapes
    assert all(p.is_meta for p in params) and inputs[0].is_meta


def test_decode_step_reads_the_kv_cache():
    wl = export_model("llama-tiny", phase="decode", kv_len=40, seq_len=8)
    qk = [o for o in wl.ops if o.name.endswith(".qk")]
    assert len(qk) == 2 and all(o.dims["M"] == 1 and o.dims["N"] == 41 for o in qk)   # cache + the new token
    lin = [o for o in wl.gemm_ops() if o.target == "aten.linear.default"]
    assert all(o.dims["M"] == 1 for o in lin)
    assert wl.meta["phase"] == "decode" and wl.meta["kv_len"] == 40
    prefill = export_model("llama-tiny", seq_len=8)
    assert all(o.dims["M"] == 8 and o.dims["N"] == 8 for o in prefill.ops if o.name.endswith(".qk"))


def test_phase_errors_name_the_choices():
    with pytest.raises(InputError, match="valid phases: prefill, decode"):
        export_model("llama-tiny", phase="generate")
    with pytest.raises(InputError, match="decoder"):
        export_model("bert-base-uncased", phase="decode")
    with pytest.raises(InputError, match="decode only"):
        export_model("llama-tiny", kv_len=8)
    with pytest.raises(InputError, match="not a language model"):
        export_model("resnet18", phase="decode")


def test_position_limit_extended_with_a_warning():
    with pytest.warns(PositionLimitWarning, match="600 tokens exceed its published 512"):
        module, _, notes = build_hf("bert-base-uncased", batch=1, seq_len=600, image_size=None)
    assert module.embeddings.position_embeddings.weight.shape[0] == 600 and "extended" in notes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PositionLimitWarning)
        build_hf("bert-base-uncased", batch=1, seq_len=512, image_size=None)


def test_moe_expert_gemms_have_their_macs():
    seq = 6
    wl = export_model("mixtral-tiny", seq_len=seq)
    spec = dict(HF_MODELS["mixtral-tiny"].overrides)
    hidden, inter, experts, top_k = (spec[k] for k in ("hidden_size", "intermediate_size", "num_local_experts",
                                                       "num_experts_per_tok"))
    moe = [o for o in wl.ops if o.attrs.get("experts")]
    assert len(moe) == 2 * spec["num_hidden_layers"] and all(o.op_class == "GEMM" for o in moe)
    rows = seq * top_k                                                 # routed rows: tokens x top-k
    gate_up, down = moe[0], moe[1]
    assert gate_up.macs == rows * hidden * 2 * inter and down.macs == rows * inter * hidden
    assert gate_up.dims["B"] == experts and gate_up.dims["M"] == math.ceil(rows / experts)
    assert "uniform" in gate_up.attrs["routing"]
    dec = export_model("mixtral-tiny", seq_len=seq, phase="decode", kv_len=4)
    d0 = [o for o in dec.ops if o.attrs.get("experts")][0]
    assert d0.dims["B"] == top_k and d0.dims["M"] == 1                 # one token visits top-k experts
    assert d0.macs == top_k * hidden * 2 * inter
    assert not [o for o in wl.ops if o.op_class == "other" and "grouped" in o.target]


def _costs(wl):
    return sorted((o.target, o.op_class, tuple(o.dims.items()), o.macs, o.elem_ops, o.bytes_read, o.bytes_written)
                  for o in wl.ops if not o.attrs.get("view"))


def test_second_length_reuses_the_symbolic_capture(monkeypatch):
    from cimscope.workloads import symbolic
    from cimscope.workloads.capture import capture
    from cimscope.workloads.lower import lower_captured
    from cimscope.workloads.zoo import build
    symbolic.clear_cache()
    first = export_model("llama-tiny", seq_len=24)
    assert not first.meta["capture_reused"]

    def no_trace(*a, **k):
        raise AssertionError("traced again although the capture covers this length")
    monkeypatch.setattr(symbolic, "export_program", no_trace)
    second = export_model("llama-tiny", seq_len=40)
    assert second.meta["capture_reused"] and second.meta["input_shapes"] == [[1, 40]]
    monkeypatch.undo()
    b = build("llama-tiny", seq_len=40, device="meta")                  # a fixed-size capture at 40 tokens
    fixed = lower_captured(capture(b.module, b.inputs, mode="export"))
    assert _costs(second) == sorted(_costs(type(second)(model="x", ops=fixed)))   # same costs (views aside)
