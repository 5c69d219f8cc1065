"""`cimscope model` and `cimscope mapper` on timeloopfe v0.4 source files (Jinja2 top files, `nodes:` trees,
constraints in containers) as a Timeloop user runs them: the public exercises' sources give the stored
timeloop-model statistics, and the mapper keeps the constraints written in the sources."""
import json

import pytest

from timeloop_source_cases import cases

from cimscope.cli import main
from cimscope.timeloop.stats import parse_stats

CASES = cases()
# 2020/04's stored runs were made from an older arch.yaml (see STALE in test_timeloop_sources.py).
MODEL_CASES = [c for c in CASES if c.tool == "model" and not c.name.startswith("2020/04")]
SOS = next(c for c in CASES if c.name.startswith("designs/simple_output_stationary"))


def _jinja(case) -> list[str]:
    return [x for k, v in case.jinja.items() for x in ("--jinja", f"{k}={json.dumps(v)}")]


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.name for c in MODEL_CASES])
def test_model_on_sources_gives_the_stored_stats(case, capsys):
    rc = main(["model", *map(str, case.sources), "--ert", str(case.ert), "--json", *_jinja(case)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out)
    ref = parse_stats(case.run / "timeloop-model.stats.txt")
    assert doc["cycles"] == ref.cycles
    assert doc["computes"] == ref.computes
    assert doc["energy_pJ"] == pytest.approx(ref.energy_pJ, rel=5e-3)


def test_mapper_on_sources_keeps_container_constraints(tmp_path, capsys):
    """simple_output_stationary's PE container constraints (split 1: C and M across the PEs) reach the mapper
    through the CLI: it lands on timeloop-mapper's 677,376 cycles (its stats.txt), not 56,448; the map it
    writes is accepted by `cimscope model` (processed input from the same sources) with the same numbers."""
    args = [str(s) for s in SOS.sources] + ["--ert", str(SOS.ert), *_jinja(SOS)]
    rc = main(["mapper", *args, "--max-evaluations", "300", "--no-cache", "--json", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["cycles"] == 677376 == parse_stats(SOS.run / "timeloop-mapper.stats.txt").cycles
    assert main(["model", str(SOS.processed), str(tmp_path / "timeloop-mapper.map.yaml"), "--ert", str(SOS.ert),
                 "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["cycles"], again["energy_pJ"]) == (doc["cycles"], pytest.approx(doc["energy_pJ"], rel=1e-12))


def test_jinja_option_errors_are_one_line(tmp_path, capsys):
    src = [str(s) for s in SOS.sources]
    for bad, words in ((["--jinja", "architecture"], "expected KEY=VALUE"),
                       (["--jinja", "architecture=["], "VALUE is not valid YAML"),
                       ([], "'architecture' is undefined")):
        assert main(["model", *src, *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and "Traceback" not in err[0], err
    # --jinja with a processed input would be unused: refused, not ignored.
    assert main(["mapper", str(SOS.processed), "--jinja", "architecture=x", "--ert", str(SOS.ert)]) == 2
    assert "drop --jinja" in capsys.readouterr().err
