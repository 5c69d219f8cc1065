"""User code of a `file.py:factory` model is contained (issue 14): its prints go to stderr (``--json`` stays one
JSON document on stdout), a factory that never returns is stopped by ``--timeout``, sys.exit and exceptions are
one error line with exit 2; options are refused before anything is built; a failed export leaves no folder."""
import json
import textwrap

import pytest

from cimscope.cli import main
from cimscope.errors import ExportError, InputError

FACTORIES = {
    "prints": """
        import os
        import torch
        from torch import nn
        print("printed while loading")

        def make(batch=1, image_size=16):
            print("printed by the factory")
            os.write(1, b"written to fd 1\\n")
            return nn.Sequential(nn.Conv2d(3, 4, 3)), (torch.randn(batch, 3, 16, 16),)
    """,
    "exits": """
        import sys

        def make():
            sys.exit(3)
    """,
    "loops": """
        def make():
            n = 0
            while True:
                try:
                    n += 1
                except Exception:
                    pass
    """,
    "raises": """
        def make():
            raise RuntimeError("no such\\nlayer")
    """,
    "exits_on_load": """
        raise SystemExit("bye")

        def make():
            pass
    """,
}


@pytest.fixture
def factory(tmp_path):
    def write(name):
        p = tmp_path / f"{name}.py"
        p.write_text(textwrap.dedent(FACTORIES[name]))
        return f"{p}:make"
    return write


def _one_error(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("cimscope: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_printing_factory_keeps_json_on_stdout(factory, tmp_path, capfd):
    rc = main(["export", factory("prints"), "--out", str(tmp_path / "o"), "--json"])
    out, err = capfd.readouterr()
    assert rc == 0
    doc = json.loads(out)                                   # one JSON document, nothing printed before it
    assert doc["totals"]["count"] >= 1
    for text in ("printed while loading", "printed by the factory", "written to fd 1"):
        assert text in err and text not in out


def test_human_table_goes_to_stderr(factory, tmp_path, capfd):
    rc = main(["export", factory("prints"), "--out", str(tmp_path / "o")])
    out, err = capfd.readouterr()
    assert rc == 0 and out == "" and "GEMM" in err and "workload.yaml" in err


@pytest.mark.parametrize("name,words", [
    ("exits", "called sys.exit(3)"),
    ("exits_on_load", "called sys.exit('bye')"),
    ("raises", "RuntimeError: no such layer"),
])
def test_factory_exit_or_error_is_one_line(factory, tmp_path, capfd, name, words):
    rc = main(["export", factory(name), "--out", str(tmp_path / "o"), "--json"])
    out, err = capfd.readouterr()
    assert rc == 2 and out == ""
    assert words in _one_error(err)
    assert not (tmp_path / "o").exists()                    # a failed export leaves no folder behind


def test_endless_factory_is_stopped_by_timeout(factory, tmp_path, capfd):
    import time
    t0 = time.monotonic()
    rc = main(["export", factory("loops"), "--out", str(tmp_path / "a" / "b"), "--timeout", "1", "--json"])
    elapsed = time.monotonic() - t0
    out, err = capfd.readouterr()
    assert rc == 2 and out == "" and elapsed < 30
    assert "did not finish within 1 s (--timeout)" in _one_error(err)
    assert not (tmp_path / "a").exists()                    # nor the parents it would have made


def test_timeout_is_restored_and_api_raises(factory):
    import signal
    from cimscope.workloads import export_model
    with pytest.raises(ExportError, match="within 0.5 s"):
        export_model(factory("loops"), timeout_s=0.5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)


@pytest.mark.parametrize("args,words", [
    (["--batch", "99999999"], "--batch: 99999999 is invalid"),
    (["--batch", "0"], "valid: an integer in [1, 1024]"),
    (["--image-size", "100000"], "--image-size: 100000"),
    (["--seq", str(2 ** 70)], "--seq: "),
    (["--weight-bits", "65"], "--weight-bits: 65"),
    (["--timeout", "nan"], "--timeout: nan"),
    (["--timeout", "0"], "--timeout: 0.0"),
])
def test_export_options_refused_before_any_build_or_folder(tmp_path, capfd, monkeypatch, args, words):
    import cimscope.workloads as wlmod
    import cimscope.workloads.zoo as zoo

    def boom(*a, **k):
        raise AssertionError("built a model with an invalid option")
    monkeypatch.setattr(wlmod, "_export", boom)
    monkeypatch.setattr(zoo, "build", boom)
    rc = main(["export", "resnet18", *args, "--out", str(tmp_path / "o")])
    out, err = capfd.readouterr()
    assert rc == 2 and out == "" and words in _one_error(err)
    assert not (tmp_path / "o").exists()


def test_api_checks_sizes_first(monkeypatch):
    import cimscope.workloads as wlmod
    monkeypatch.setattr(wlmod, "_export", lambda *a, **k: pytest.fail("exported"))
    with pytest.raises(InputError, match=r"--image-size: 100000 is invalid"):
        wlmod.export_model("resnet18", image_size=100000)
    with pytest.raises(InputError, match=r"--kv-len"):
        wlmod.export_model("llama-tiny", phase="decode", kv_len=2 ** 70)


def test_failed_export_keeps_an_existing_out_folder(factory, tmp_path, capfd):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    rc = main(["export", factory("raises"), "--out", str(out)])
    capfd.readouterr()
    assert rc == 2 and (out / "notes.txt").read_text() == "keep me"


def test_contained_outside_the_main_thread_converts_exit_without_a_timer():
    """Outside the main thread (a Dask thread worker) no process-wide timer or stdout swap: the code runs to
    its end, and sys.exit is still one ExportError."""
    import signal
    import sys
    import threading
    from cimscope.workloads.contain import contained
    seen = {}

    def work():
        try:
            with contained("x.py:make", 0.01):
                seen["timer"] = signal.getitimer(signal.ITIMER_REAL)
                seen["stdout"] = sys.stdout
                sys.exit(4)
        except BaseException as exc:  # noqa: BLE001
            seen["error"] = exc
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen["timer"] == (0.0, 0.0) and seen["stdout"] is sys.stdout
    assert isinstance(seen["error"], ExportError) and "sys.exit(4)" in str(seen["error"])
