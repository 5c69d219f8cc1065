"""The counting rule of cimscope.profile on hand-built profiler events (no torch run needed).

Every expected figure below is the sum of the hand-written self times, worked out in the comments."""
import pytest

from cimscope.ir import OP_CLASSES
from cimscope.profile.classes import MODULE_ANNOTATION, RUN_ANNOTATION, ProfEvent, group_events, is_op_event


class _Events:
    """Builds a parent/child event list: add(name, self_us, parent) -> id."""

    def __init__(self):
        self.events = []

    def add(self, name, self_us, parent=None, device_us=0.0, shapes=None):
        eid = len(self.events) + 1
        self.events.append(ProfEvent(id=eid, name=name, parent=parent, self_us=self_us,
                                     device_self_us=device_us, input_shapes=shapes or []))
        return eid


def _one_run(ev: _Events, scale: float = 1.0):
    """One inference. Self times in us (x scale); device times = 10 x host times for the GEMM kernels only."""
    s = scale
    run = ev.add(RUN_ANNOTATION, 50 * s)                          # outside: 50
    fc = ev.add(MODULE_ANNOTATION + "fc", 5 * s, run)              # outside: 5
    lin = ev.add("aten::linear", 3 * s, fc, shapes=[[1, 8], [4, 8], [4]])
    t = ev.add("aten::t", 2 * s, lin)                             # memory-ish helper inside GEMM -> GEMM
    tr = ev.add("aten::transpose", 1 * s, t)
    ev.add("aten::as_strided", 0.5 * s, tr)
    addmm = ev.add("aten::addmm", 100 * s, lin, device_us=1000 * s)
    ex = ev.add("aten::expand", 1.5 * s, addmm)
    ev.add("aten::as_strided", 0.5 * s, ex)
    ev.add("aten::copy_", 4 * s, addmm)
    ev.add("aten::resolve_conj", 0.25 * s, addmm)                 # unknown to the taxonomy, inside GEMM
    ev.add("cudaLaunchKernel", 0.75 * s, addmm)                   # runtime call: to its operator's class
    # GEMM = 3 + 2 + 1 + 0.5 + 100 + 1.5 + 0.5 + 4 + 0.25 + 0.75 = 113.5
    relu_mod = ev.add(MODULE_ANNOTATION + "act", 1 * s, run)       # outside: 1
    relu = ev.add("aten::relu_", 1 * s, relu_mod, device_us=20 * s)
    ev.add("aten::clamp_min_", 10 * s, relu, device_us=30 * s)    # taxonomy: arithmetic; inside relu_: activation
    # activation = 1 + 10 = 11 (device 50)
    ev.add("aten::view", 2 * s, run)                              # memory called by the model: 2
    mean = ev.add("aten::mean", 1 * s, run)
    ev.add("aten::sum", 6 * s, mean)
    div = ev.add("aten::div_", 2 * s, mean)
    to = ev.add("aten::to", 0.5 * s, div)
    tc = ev.add("aten::_to_copy", 0.5 * s, to)
    ev.add("aten::copy_", 0.5 * s, tc)
    # arithmetic = 1 + 6 + 2 + 0.5 + 0.5 + 0.5 = 10.5
    att = ev.add("aten::my_fused_attention", 1 * s, run)          # unknown, nothing known above it -> other: 1
    ev.add("aten::bmm", 20 * s, att, device_us=200 * s)           # known compute under unknown: own class
    ev.add("aten::_softmax", 5 * s, att, device_us=50 * s)        # logit_computation: 5
    ev.add("aten::bmm", 20 * s, att, device_us=200 * s)           # GEMM += 40
    cus = ev.add("aten::my_custom_op", 7 * s, run)                # unknown: other 7
    ev.add("aten::empty", 1 * s, cus)                             # known memory, no known op above: memory 1
    # memory = 2 + 1 = 3; other = 1 + 7 = 8
    return run


EXPECTED_US = {"GEMM": 153.5, "activation": 11.0, "memory": 3.0, "arithmetic": 10.5, "logit_computation": 5.0,
               "other": 8.0}
EXPECTED_OUTSIDE_US = 56.0


def _all_op_self_us(events):
    return sum(e.self_us for e in events if e.name != RUN_ANNOTATION and not e.name.startswith(MODULE_ANNOTATION))


def test_is_op_event():
    assert is_op_event("aten::addmm") and is_op_event("torchvision::nms")
    assert not is_op_event(RUN_ANNOTATION) and not is_op_event(MODULE_ANNOTATION + "fc")
    assert not is_op_event("cudaLaunchKernel") and not is_op_event("ProfilerStep#1")


def test_class_totals_one_run_no_double_counting():
    ev = _Events()
    _one_run(ev)
    g = group_events(ev.events)
    assert set(g.class_time_s) == set(OP_CLASSES)
    for c in OP_CLASSES:
        assert g.class_time_s[c] * 1e6 == pytest.approx(EXPECTED_US.get(c, 0.0)), c
    assert g.outside_s * 1e6 == pytest.approx(EXPECTED_OUTSIDE_US)
    # every microsecond counted exactly once: class totals + outside = all self times
    assert (g.total_s + g.outside_s) * 1e6 == pytest.approx(sum(e.self_us for e in ev.events))
    assert g.total_s * 1e6 == pytest.approx(_all_op_self_us(ev.events))
    # = the inclusive times of the six top-level calls: 113.5 + 11 + 2 + 10.5 + 46 + 8 = 191 (summing every
    # op's inclusive time instead would count addmm's 106.25 us twice, once under aten::linear)
    assert g.total_s * 1e6 == pytest.approx(191.0)
    # only unknown ops with no known op above them are listed
    assert set(g.unknown_ops) == {"aten::my_fused_attention", "aten::my_custom_op"}
    assert g.unknown_ops["aten::my_custom_op"] * 1e6 == pytest.approx(7.0)


def test_top_level_calls_and_the_op_that_does_the_work():
    ev = _Events()
    _one_run(ev)
    g = group_events(ev.events)
    names = [o.name for o in g.ops]
    assert names == ["aten::linear", "aten::relu_", "aten::view", "aten::mean", "aten::my_fused_attention",
                     "aten::my_custom_op"]
    lin = g.ops[0]
    assert lin.work == "aten::addmm" and lin.module == "fc" and lin.op_class == "GEMM"
    assert lin.time_s * 1e6 == pytest.approx(113.5)
    assert lin.chain[:2] == ["aten::linear", "aten::t"] and "aten::addmm" in lin.chain
    assert lin.spine == ["aten::linear", "aten::addmm"]           # addmm 106.25 us incl. > t 3.5 us
    assert lin.input_shapes == [[1, 8], [4, 8], [4]]
    relu = g.ops[1]
    assert relu.work == "aten::clamp_min_" and relu.op_class == "activation" and relu.module == "act"
    att = g.ops[4]
    assert att.class_time_s["GEMM"] * 1e6 == pytest.approx(40) and att.op_class == "GEMM"
    assert att.class_time_s["logit_computation"] * 1e6 == pytest.approx(5)
    assert g.ops[2].module == ""                                   # called at the model's top level


def test_runs_are_averaged_and_other_threads_ignored():
    ev = _Events()
    _one_run(ev, 1.0)
    _one_run(ev, 3.0)
    # an operator on another thread (no run annotation above it) is not part of the inference timeline
    ev.add("aten::copy_", 1000.0, None)
    g = group_events(ev.events)
    assert g.runs == 2
    for c, v in EXPECTED_US.items():
        assert g.class_time_s[c] * 1e6 == pytest.approx(v * (1 + 3) / 2), c
    assert len(g.ops) == 6                                         # the two runs' calls merge by position
    assert g.ops[0].time_s * 1e6 == pytest.approx(113.5 * 2)


def test_device_time_uses_kernel_self_time():
    ev = _Events()
    _one_run(ev)
    g = group_events(ev.events, use_device=True)
    assert g.class_time_s["GEMM"] * 1e6 == pytest.approx(1000 + 400)
    assert g.class_time_s["activation"] * 1e6 == pytest.approx(50)
    assert g.class_time_s["logit_computation"] * 1e6 == pytest.approx(50)
    assert g.class_time_s["arithmetic"] == 0 and g.outside_s == 0


def test_composite_calls_attention_pooling_and_conv_bias():
    """GEMM composites keep their NonGEMM compute steps apart (softmax in attention, a bias add_ kernel in a
    convolution); NonGEMM composites keep everything (adaptive pooling implemented with mean/sum)."""
    ev = _Events()
    run = ev.add(RUN_ANNOTATION, 0.0)
    mha = ev.add("aten::_native_multi_head_attention", 2.0, run)  # fused eager kernel, aliased to attention
    ev.add("aten::mm", 100.0, mha)                                # QKV projection: GEMM
    ev.add("aten::_transform_bias_rescale_qkv", 8.0, mha)         # unknown helper: part of the GEMM call
    ev.add("aten::bmm", 30.0, mha)
    ev.add("aten::_masked_softmax", 12.0, mha)                    # aliased to softmax: logit_computation
    cont = ev.add("aten::contiguous", 1.0, mha)                   # memory helpers: part of the GEMM call
    clone = ev.add("aten::clone", 2.0, cont)
    ev.add("aten::copy_", 5.0, clone)
    ev.add("aten::addmm", 50.0, mha)                              # output projection
    # GEMM = 2 + 100 + 8 + 30 + 1 + 2 + 5 + 50 = 198; logit_computation = 12
    pool = ev.add("aten::adaptive_avg_pool2d", 1.0, run)
    mean = ev.add("aten::mean", 2.0, pool)                        # arithmetic by name, pooling here
    ev.add("aten::sum", 6.0, mean)
    # pooling = 1 + 2 + 6 = 9
    conv = ev.add("aten::conv2d", 1.0, run)
    cconv = ev.add("aten::_convolution", 2.0, conv)
    ev.add("aten::cudnn_convolution", 40.0, cconv)                # unknown helper: GEMM
    add = ev.add("aten::add_", 3.0, cconv)                        # the bias kernel: arithmetic
    ev.add("aten::as_strided", 0.5, add)                          # its helper goes with it
    # GEMM += 1 + 2 + 40 = 43 -> 241; arithmetic = 3.5
    g = group_events(ev.events)
    got = {c: round(v * 1e6, 6) for c, v in g.class_time_s.items() if v}
    assert got == {"GEMM": 241.0, "logit_computation": 12.0, "pooling": 9.0, "arithmetic": 3.5}
    assert g.unknown_ops == {}
    assert [o.op_class for o in g.ops] == ["GEMM", "pooling", "GEMM"]
    assert g.ops[0].work == "aten::mm" and g.ops[0].spine == ["aten::_native_multi_head_attention", "aten::mm"]
    assert g.ops[2].spine == ["aten::conv2d", "aten::_convolution", "aten::cudnn_convolution"]


def test_no_run_annotation_treats_everything_as_one_run():
    ev = _Events()
    lin = ev.add("aten::linear", 1.0)
    ev.add("aten::addmm", 9.0, lin)
    ev.add("aten::gelu", 4.0)
    g = group_events(ev.events)
    assert g.runs == 1
    assert g.class_time_s["GEMM"] * 1e6 == pytest.approx(10.0)
    assert g.class_time_s["activation"] * 1e6 == pytest.approx(4.0)


def test_real_profile_every_microsecond_once():
    """On a real torch.profiler trace: class totals + time outside operators = the run annotation's
    wall time, and the class totals equal the inclusive time of the top-level operator calls."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    from cimscope.profile.measure import ModuleAnnotations, events_from_torch

    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.LayerNorm(32),
                                torch.nn.Softmax(dim=-1)).eval()
    x = torch.randn(4, 16)
    with torch.inference_mode():
        model(x)
        with ModuleAnnotations(model):
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                with record_function(RUN_ANNOTATION):
                    model(x)
    fes = list(prof.events())
    run = next(e for e in fes if e.name == RUN_ANNOTATION)
    events, kernel_us = events_from_torch(fes)
    g = group_events(events)
    assert kernel_us == 0
    assert (g.total_s + g.outside_s) * 1e6 == pytest.approx(run.cpu_time_total, rel=1e-9)

    def top_ops(e):
        if is_op_event(e.name):
            return [e]
        return [t for c in e.cpu_children for t in top_ops(c)]
    tops = top_ops(run)
    assert [t.name for t in tops] == [o.name for o in g.ops]
    assert g.total_s * 1e6 == pytest.approx(sum(t.cpu_time_total for t in tops), rel=1e-9)
    by_class = {c: v for c, v in g.class_time_s.items() if v > 0}
    assert set(by_class) == {"GEMM", "activation", "normalization", "logit_computation"}
    lin = g.ops[0]
    assert lin.name == "aten::linear" and lin.work == "aten::addmm" and lin.module == "0"


def test_events_from_torch_device_side_without_a_gpu():
    """The CUDA reading on stand-in FunctionEvents (no GPU here): kernels count through the op that launched
    them; device-side kernel events only make the total; a GPU mirror of an annotation is not a kernel."""
    from types import SimpleNamespace as E

    from cimscope.profile.measure import events_from_torch

    run = E(id=1, name=RUN_ANNOTATION, device_type="DeviceType.CPU", is_user_annotation=True, is_async=False,
            cpu_parent=None, self_cpu_time_total=10.0, self_device_time_total=900.0, input_shapes=[])
    lin = E(id=2, name="aten::linear", device_type="DeviceType.CPU", is_user_annotation=False, is_async=False,
            cpu_parent=run, self_cpu_time_total=3.0, self_device_time_total=0.0, input_shapes=[[4, 8], [2, 8]])
    mm = E(id=3, name="aten::addmm", device_type="DeviceType.CPU", is_user_annotation=False, is_async=False,
           cpu_parent=lin, self_cpu_time_total=6.0, self_device_time_total=40.0, input_shapes=[])
    launch = E(id=4, name="cudaLaunchKernel", device_type="DeviceType.CPU", is_user_annotation=False,
               is_async=False, cpu_parent=mm, self_cpu_time_total=2.0, self_device_time_total=0.0, input_shapes=[])
    gelu = E(id=5, name="aten::gelu", device_type="DeviceType.CPU", is_user_annotation=False, is_async=False,
             cpu_parent=run, self_cpu_time_total=2.0, self_device_time_total=10.0, input_shapes=[])
    k1 = E(id=6, name="sm90_gemm_kernel", device_type="DeviceType.CUDA", is_user_annotation=False,
           device_time_total=40.0)
    k2 = E(id=7, name="gelu_kernel", device_type="DeviceType.CUDA", is_user_annotation=False,
           device_time_total=10.0)
    k3 = E(id=8, name="memset", device_type="DeviceType.CUDA", is_user_annotation=False, device_time_total=1.0)
    mirror = E(id=9, name=RUN_ANNOTATION, device_type="DeviceType.CUDA", is_user_annotation=True,
               device_time_total=900.0)
    events, kernel_us = events_from_torch([run, lin, mm, launch, gelu, k1, k2, k3, mirror])
    assert kernel_us == 51.0
    assert [e.name for e in events] == [RUN_ANNOTATION, "aten::linear", "aten::addmm", "cudaLaunchKernel",
                                        "aten::gelu"]
    assert events[0].device_self_us == 0.0 and events[2].parent == 2
    g = group_events(events, use_device=True)
    assert g.class_time_s["GEMM"] * 1e6 == pytest.approx(40.0)
    assert g.class_time_s["activation"] * 1e6 == pytest.approx(10.0)
    assert g.outside_s == 0.0
    host = group_events(events)
    assert host.class_time_s["GEMM"] * 1e6 == pytest.approx(3 + 6 + 2)   # the launch call's host time too


# --- CUDA bases and compiled kernels (hand-built events: no GPU here) -----------------------------------

def _cuda_events():
    return [ProfEvent(1, RUN_ANNOTATION, None, 10.0),
            ProfEvent(2, "aten::linear", 1, 3.0),
            ProfEvent(3, "aten::addmm", 2, 6.0, device_self_us=40.0),
            ProfEvent(4, "cudaLaunchKernel", 3, 2.0),
            ProfEvent(5, "aten::gelu", 1, 2.0, device_self_us=10.0)]


def test_host_plus_device_basis_is_nongemm_bench_cpu_plus_cuda_time():
    g = group_events(_cuda_events(), basis="host+device")
    assert g.class_time_s["GEMM"] * 1e6 == pytest.approx(3 + 6 + 2 + 40)
    assert g.class_time_s["activation"] * 1e6 == pytest.approx(2 + 10)
    assert g.outside_s * 1e6 == pytest.approx(10.0)
    assert group_events(_cuda_events(), basis="device").class_time_s["GEMM"] * 1e6 == pytest.approx(40.0)
    from cimscope.errors import UnknownNameError
    with pytest.raises(UnknownNameError, match="host\\+device"):
        group_events(_cuda_events(), basis="wall")


def test_classify_kernel_names():
    from cimscope.profile.classes import classify_kernel
    assert classify_kernel("triton_poi_fused_add_gelu_3") == ("arithmetic", True)
    assert classify_kernel("triton_poi_fused_gelu_0") == ("activation", True)
    assert classify_kernel("triton_red_fused_add_native_layer_norm_0") == ("normalization", True)
    assert classify_kernel("triton_per_fused__softmax_div_1") == ("logit_computation", True)
    assert classify_kernel("triton_tem_fused_addmm_gelu_2") == ("GEMM", True)
    assert classify_kernel("triton_poi_fused_clone_view_5") == ("memory", True)
    assert classify_kernel("ampere_fp16_s16816gemm_fp16_128x128_ldg8_f2f_stages_32x5_tn") == ("GEMM", True)
    assert classify_kernel("pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits>") == ("GEMM", True)
    assert classify_kernel("void at::native::(anonymous namespace)::cunn_SoftMaxForward<8>") == \
        ("logit_computation", True)
    assert classify_kernel("triton_poi_fused_zork_7") == ("other", False)
    assert classify_kernel("mystery_kernel") == ("other", False)


def test_compiled_kernels_outside_operators_are_calls_of_their_own():
    """torch.compile on CUDA: Triton kernels are launched from the compiled region, outside any ATen op;
    each kernel is a call classed by its name, extern GEMMs stay ATen calls, nothing lands outside."""
    events = [ProfEvent(1, RUN_ANNOTATION, None, 5.0),
              ProfEvent(2, "Torch-Compiled Region", 1, 4.0),
              ProfEvent(3, "cuLaunchKernel", 2, 3.0, device_self_us=7.0,
                        kernels=[("triton_poi_fused_add_gelu_0", 7.0)]),
              ProfEvent(4, "aten::mm", 2, 6.0, device_self_us=20.0),
              ProfEvent(5, "cuLaunchKernel", 2, 2.0, device_self_us=6.0,
                        kernels=[("triton_red_fused_native_layer_norm_1", 5.0), ("mystery_kernel", 1.0)])]
    g = group_events(events, basis="host+device")
    assert [o.name for o in g.ops] == ["triton_poi_fused_add_gelu_0", "aten::mm",
                                       "triton_red_fused_native_layer_norm_1", "mystery_kernel"]
    assert g.class_time_s["arithmetic"] * 1e6 == pytest.approx(3 + 7)
    assert g.class_time_s["GEMM"] * 1e6 == pytest.approx(6 + 20)
    assert g.class_time_s["normalization"] * 1e6 == pytest.approx(2 + 5)
    assert g.class_time_s["other"] * 1e6 == pytest.approx(1.0)
    assert g.unknown_ops == {"mystery_kernel": pytest.approx(1e-6)}
    assert g.outside_s * 1e6 == pytest.approx(5 + 4)              # the annotations only
    assert (g.total_s + g.outside_s) * 1e6 == pytest.approx(sum(e.self_us + e.device_self_us for e in events))
    host = group_events(events, basis="host")                     # CPU basis: launches are outside time
    assert host.class_time_s["GEMM"] * 1e6 == pytest.approx(6.0) and host.outside_s * 1e6 == pytest.approx(14)


def test_events_from_torch_reads_kernel_names():
    from types import SimpleNamespace as E

    from cimscope.profile.measure import events_from_torch
    launch = E(id=1, name="cuLaunchKernel", device_type="DeviceType.CPU", is_user_annotation=False,
               is_async=False, cpu_parent=None, self_cpu_time_total=3.0, self_device_time_total=7.0,
               input_shapes=[], kernels=[E(name="triton_poi_fused_add_0", device=0, duration=7.0)])
    (ev,), _ = events_from_torch([launch])
    assert ev.kernels == [("triton_poi_fused_add_0", 7.0)] and ev.device_self_us == 7.0


def test_compiled_cpu_kernel_events_are_calls():
    """torch.compile on CPU with Inductor's kernel profiling: each C++ kernel is a named host event."""
    from cimscope.profile.classes import classify_kernel
    assert classify_kernel("graph_0_cpp_fused_add_relu_0") == ("arithmetic", True)
    assert classify_kernel("graph_1_cpp_fused__softmax_3") == ("logit_computation", True)
    events = [ProfEvent(1, RUN_ANNOTATION, None, 5.0),
              ProfEvent(2, "Torch-Compiled Region", 1, 4.0),
              ProfEvent(3, "aten::convolution", 2, 30.0),
              ProfEvent(4, "graph_0_cpp_fused__native_batch_norm_legit_no_training_relu_0", 2, 6.0),
              ProfEvent(5, "graph_0_cpp_fused_mean_1", 2, 2.0)]
    g = group_events(events)
    assert [o.name for o in g.ops] == ["aten::convolution", events[3].name, events[4].name]
    assert g.class_time_s["GEMM"] * 1e6 == pytest.approx(30.0)
    assert g.class_time_s["normalization"] * 1e6 == pytest.approx(6.0)
    assert g.class_time_s["arithmetic"] * 1e6 == pytest.approx(2.0)
    assert g.outside_s * 1e6 == pytest.approx(9.0)
