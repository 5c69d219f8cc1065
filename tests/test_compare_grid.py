"""The comparison grid: local pool, Dask (in-process cluster), the on-disk cache that lets a re-run resume,
the break-even analysis, and the `cimscope compare` command."""
import json

import pytest

from cimscope import ir
from cimscope.evaluate import EvalConfig, gemm_op
from cimscope.report import break_even
from cimscope.sweep import run_grid


@pytest.fixture(autouse=True)
def _mapper_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CIMSCOPE_CACHE", str(tmp_path_factory.getbasetemp() / "mapper-cache"))


def _tiny():
    relu = ir.Op(name="relu", target="aten.relu.default", module="act", op_class="activation", kind="elementwise",
                 dims={"A": 4096}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                            ir.Tensor("Outputs", "output", [[("A", 1)]], 8)],
                 elem_ops=4096, ops_per_element=1.0, bytes_read=4096, bytes_written=4096)
    view = ir.Op(name="view", target="aten.view.default", module="", op_class="memory", kind="memory",
                 dims={"A": 4096}, tensors=[ir.Tensor("Inputs", "input", [[("A", 1)]], 8),
                                            ir.Tensor("Outputs", "output", [[("A", 1)]], 8)])
    g1 = gemm_op(64, 64, 64, name="fc1")
    g2 = gemm_op(64, 128, 64, name="fc2")
    g3 = gemm_op(64, 64, 64, name="fc3")         # same shape as fc1: computed once
    return ir.Workload(model="tiny", ops=[g1, relu, view, g2, g3])


CONFIGS = [EvalConfig(arch="a100_sm", placement="none"),
           EvalConfig(arch="a100_sm", placement="rf", primitive="analog6T"),
           EvalConfig(arch="a100_sm", placement="smem", primitive="digital6T")]


def _figures(grid):
    return {k: (round(v.energy_pJ, 6), round(v.cycles, 6)) for k, v in grid.networks.items()}


def test_rerun_resumes_from_the_cache(tmp_path):
    wl = {"tiny": _tiny()}
    first = run_grid(wl, CONFIGS, workers=1, cache_dir=str(tmp_path), progress=False)
    assert first.stats["gemm_tasks"] == 2 * 3 and first.stats["computed"] == 6 and first.stats["cache_hits"] == 0
    assert set(first.networks) == {("tiny", "baseline"), ("tiny", "rf/analog6T"), ("tiny", "smem/digital6T")}
    again = run_grid(wl, CONFIGS, workers=1, cache_dir=str(tmp_path), progress=False)
    assert again.stats["computed"] == 0 and again.stats["cache_hits"] == 6
    assert _figures(again) == _figures(first)
    # a new configuration computes only its own shapes
    more = run_grid(wl, CONFIGS + [EvalConfig(arch="a100_sm", placement="rf", primitive="digital8T")], workers=1,
                    cache_dir=str(tmp_path), progress=False)
    assert more.stats["computed"] == 2 and more.stats["cache_hits"] == 6


def test_process_pool_and_dask_agree_with_in_process(tmp_path):
    from distributed import LocalCluster
    wl = {"tiny": _tiny()}
    ref = run_grid(wl, CONFIGS, workers=1, cache_dir=None, progress=False)
    pool = run_grid(wl, CONFIGS, workers=2, cache_dir=str(tmp_path / "pool"), progress=False)
    assert pool.stats["backend"] == "process pool (2)" and _figures(pool) == _figures(ref)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        dask = run_grid(wl, CONFIGS, scheduler=cluster.scheduler_address, cache_dir=str(tmp_path / "dask"),
                        progress=False)
    assert dask.stats["backend"] == "dask" and dask.stats["computed"] == 6 and _figures(dask) == _figures(ref)


def test_a_failing_configuration_is_reported_not_fatal(tmp_path):
    wl = {"big": ir.Workload(model="big", ops=[gemm_op(64, 1024, 1024, name="big")])}
    cfgs = [EvalConfig(arch="a100_sm", placement="none"),
            EvalConfig(arch="a100_sm", placement="rf", primitive="analog6T", weight_reload=False),
            EvalConfig(arch="a100_sm", placement="smem", primitive="digital6T", weight_reload=False)]
    grid = run_grid(wl, cfgs, workers=1, cache_dir=str(tmp_path), progress=False)
    assert "missing 1,036,288 B" in grid.errors[("big", "rf/analog6T")]
    assert "missing 851,968 B" in grid.errors[("big", "smem/digital6T")]        # 48 x 4096 B = 196,608 B
    assert ("big", "baseline") in grid.networks


def test_break_even_reuse_by_hand():
    rows = [{"model": "m", "placement": "rf", "primitive": "p", "reuse_macs_per_weight_byte": r, "edp_x": x}
            for r, x in ((1, 3.0), (10, 1.5), (100, 0.8), (1000, 0.5), (50, 1.2))]
    (be,) = break_even(rows)
    assert be["gaining_ops"] == 2 and be["pays_from_reuse_macs_per_weight_byte"] == 100
    assert be["rule_agreement"] == 1.0 and be["min_ratio"] == 0.5
    (never,) = break_even([dict(r, edp_x=2.0) for r in rows])
    assert never["pays_from_reuse_macs_per_weight_byte"] is None and never["gaining_ops"] == 0


def test_compare_cli_writes_table_csv_json_and_plots(tmp_path, capsys):
    from cimscope.cli import main
    out = tmp_path / "out"
    args = ["compare", "--model", "resnet18", "--image-size", "32", "--arch", "a100_sm", "--placements", "none,rf",
            "--primitives", "analog6T,digital6T", "--workers", "1", "--cache-dir", str(tmp_path / "c"),
            "--out", str(out), "--json"]
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    labels = [(c["placement"], c["primitive"]) for c in d["configurations"]]
    assert labels == [("none", ""), ("rf", "analog6T"), ("rf", "digital6T")]
    assert all(c["energy_uJ"] > 0 and c["error"] == "" for c in d["configurations"])
    assert d["configurations"][0]["edp_x"] == 1.0 and d["gains"] and d["break_even"]
    for f in ("compare.csv", "compare.json", "gains.csv", "compare.txt", "energy_per_level_resnet18.png",
              "latency_resnet18.png", "edp_resnet18.png"):
        assert (out / f).stat().st_size > 0, f
    assert (out / "energy_per_level_resnet18.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 0                                   # second run: everything from the cache
    assert json.loads(capsys.readouterr().out)["stats"]["computed"] == 0
    assert main(["compare", "--placements", "none,rf", "--primitives", "analog9T"]) == 2
    assert "valid primitives: analog6T, analog8T, digital6T, digital8T" in capsys.readouterr().err


def test_unwritable_out_or_cache_dir_is_a_one_line_error_before_any_work(tmp_path, capsys):
    from cimscope.cli import main
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    base = ["--model", "resnet18", "--image-size", "32", "--arch", "a100_sm"]
    assert main(["compare", *base, "--placements", "none", "--workers", "1", "--cache-dir", str(tmp_path / "c"),
                 "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert f"--out '{blocker}' is not a writable folder" in err and "exporting" not in err
    assert "Traceback" not in err
    assert main(["evaluate", *base, "--cache-dir", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert f"--cache-dir '{blocker}' is not a writable folder" in err and "exporting" not in err


def test_result_write_failure_is_an_input_error(tmp_path):
    from cimscope.cli.evaluate import write
    from cimscope.errors import InputError

    def full_disk(result, out, **kw):
        raise OSError(28, "No space left on device")
    with pytest.raises(InputError, match="cannot write the results \\(No space left on device\\)"):
        write(full_disk, None, tmp_path)


def _www_gemms():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "scripts" / "www_gemms.py"
    spec = importlib.util.spec_from_file_location("www_gemms_script", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_www_gemms_rejects_bad_workers_and_unwritable_out_before_running(tmp_path, capsys):
    mod = _www_gemms()
    assert mod.main(["--workers", "0", "--cache-dir", str(tmp_path / "c")]) == 2
    assert "--workers must be >= 1, got 0" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert mod.main(["--out", str(blocker), "--cache-dir", str(tmp_path / "c")]) == 2
    assert "is not a writable folder" in capsys.readouterr().err
