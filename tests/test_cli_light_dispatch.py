"""``cimscope model`` takes the light path: the dispatcher in cimscope/cli/__init__.py runs
``cimscope.cli.model.run`` without importing typer or any other subcommand module; every other command (and
``cimscope --help``) still goes through the typer app, and errors keep their one-line exit-2 form."""
import json
import subprocess
import sys

from refpaths import REFERENCE

KP = REFERENCE / "timeloop_cases" / "04-conv1d+oc-3levelspatial-kp"

SCRIPT = """
import sys
from cimscope.cli import main
rc = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m == "typer" or m == "click" or
                (m.startswith("cimscope.cli.") and m not in ("cimscope.cli.model", "cimscope.cli._common")))
print("LOADED", ",".join(loaded) or "-", rc, file=sys.stderr)
"""


def run(*args):
    res = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=120)
    line = [ln for ln in res.stderr.splitlines() if ln.startswith("LOADED")][-1]
    _, loaded, rc = line.split(" ")
    return loaded, int(rc), res


def test_model_imports_neither_typer_nor_other_commands():
    loaded, rc, res = run("model", str(KP / "parsed-processed-input.yaml"), "--ert",
                          str(KP / "timeloop-model.ERT.yaml"), "--json")
    assert (loaded, rc) == ("-", 0)
    assert json.loads(res.stdout)["cycles"] == 3072


def test_model_errors_and_help_on_the_light_path():
    loaded, rc, res = run("model", str(KP / "no-such.yaml"))
    assert (loaded, rc) == ("-", 2)
    err = [ln for ln in res.stderr.splitlines() if not ln.startswith("LOADED")]
    assert len(err) == 1 and err[0].startswith("cimscope: error:") and "no-such.yaml" in err[0]
    loaded, rc, res = run("model", "--help")
    assert (loaded, rc) == ("-", 0) and "usage: cimscope model" in res.stdout


def test_other_commands_still_build_the_typer_app():
    loaded, rc, res = run("--help")
    assert rc == 0 and "typer" in loaded.split(",") and "cimscope.cli.evaluate" in loaded.split(",")
    assert "model" in res.stdout and "evaluate" in res.stdout
    loaded, rc, res = run("version")
    assert rc == 0 and res.stdout.strip()
    loaded, rc, res = run("evaluate", "--bogus-option")
    assert rc == 2 and "bogus-option" in res.stderr
