"""Decoder stacks captured at 3 layers and replicated to full depth give the workload a full-depth capture
gives, operator for operator (names, module paths, shapes, costs) and in the skipped-node counts, for each
replicable model type (Llama, Mistral, Mixtral) in prefill and decode; a stack whose layers differ is not
replicated."""
import dataclasses
import warnings

import pytest

from cimscope.workloads import export_model, replicate, symbolic
from cimscope.workloads.configs import HF_MODELS, HFSpec

SMALL = (("hidden_size", 64), ("intermediate_size", 128), ("num_hidden_layers", 4), ("num_attention_heads", 4),
         ("num_key_value_heads", 2), ("vocab_size", 512), ("max_position_embeddings", 256))
CASES = {
    "llama": HFSpec("LlamaConfig", "LlamaForCausalLM", SMALL, source="test"),
    "mistral": HFSpec("MistralConfig", "MistralForCausalLM", SMALL + (("sliding_window", 64),), source="test"),
    "mixtral": HFSpec("MixtralConfig", "MixtralForCausalLM", SMALL + (("num_local_experts", 4),
                                                                       ("num_experts_per_tok", 2)), source="test"),
}
#: Mistral's sliding window keeps torch.export from a symbolic KV length in a decode step: captured fixed, at
#: full depth (replication rides on the symbolic capture)
NOT_SYMBOLIC = {("mistral", "decode")}
SIZES = {"prefill": dict(seq_len=24), "decode": dict(seq_len=24, phase="decode", kv_len=24)}


def export(name, phase, monkeypatch, replicated):
    symbolic.clear_cache()
    if not replicated:
        monkeypatch.setattr(replicate, "REPLICABLE_TYPES", ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wl = export_model(name, **SIZES[phase])
    monkeypatch.undo()
    symbolic.clear_cache()
    return wl


@pytest.mark.parametrize("phase", ["prefill", "decode"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_replicated_equals_full_depth(kind, phase, monkeypatch):
    name = f"test-{kind}-4l"
    monkeypatch.setitem(HF_MODELS, name, CASES[kind])
    assert replicate.full_depth(name) == 4
    rep = export(name, phase, monkeypatch, True)
    monkeypatch.setitem(HF_MODELS, name, CASES[kind])
    full = export(name, phase, monkeypatch, False)
    assert any("replicated to 4" in n for n in rep.meta["capture_notes"]) == ((kind, phase) not in NOT_SYMBOLIC)
    assert not any("replicated" in n for n in full.meta["capture_notes"])
    assert [o.to_dict() for o in rep.ops] == [o.to_dict() for o in full.ops]
    assert rep.meta["skipped_nodes"] == full.meta["skipped_nodes"]
    assert rep.meta["input_shapes"] == full.meta["input_shapes"]
    assert len({o.name for o in rep.ops}) == len(rep.ops)
    layers = {o.module.split(".layers.")[1].split(".")[0] for o in rep.ops if ".layers." in o.module}
    assert layers == {"0", "1", "2", "3"}


def test_only_named_decoders_of_replicable_types():
    assert replicate.full_depth("llama-2-7b") == 32 and replicate.full_depth("mixtral-8x7b") == 32
    assert replicate.full_depth("llama-tiny") is None           # 2 layers: nothing to gain
    assert replicate.full_depth("gpt2-xl") is None               # not a replicable type
    assert replicate.full_depth("bert-base-uncased") is None and replicate.full_depth("resnet18") is None


def test_layers_that_differ_are_not_replicated(monkeypatch):
    from cimscope.workloads.zoo import build
    monkeypatch.setitem(HF_MODELS, "test-llama-4l", CASES["llama"])
    built = build("test-llama-4l", seq_len=24, device="meta", layers=3)
    sym = symbolic._symbolic_capture(built, "prefill")
    cap = sym.records(24)
    plan = replicate.plan(cap, sym.program.graph, 3, 4)
    (a, b), = [s.runs[1] for s in plan.stacks]
    rec = cap.records[a]
    out = rec.outputs[0]
    cap.records[a] = dataclasses.replace(rec, outputs=[dataclasses.replace(out, shape=tuple(out.shape) + (1,))])
    with pytest.raises(replicate.NotReplicable, match="layers of model.layers differ"):
        replicate.plan(cap, sym.program.graph, 3, 4)
