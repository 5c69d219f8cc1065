"""The WWW artifact's timeloopfe designs (``../shared/reference/www_artifact/designs``: the tensor-core SM and the
RF/SMEM CiM variants, each arch file with its constraints) read from their source files by `cimscope mapper` and
`cimscope model`, on a dense GEMM of the artifact's BERT-Large shape (M=512, N=1024, K=1024, bert.txt's first
row; the stored ``_include/mm-example.yaml`` has density 0.5 and is refused as sparse). Every map the mapper
writes must be accepted by `cimscope model` with the same numbers (issue 11: 9 of the artifact's 17 maps were
refused before: temporal factors at a spatial-only level whose constraint is N=1).

Energies: the WWW methodology's ERT (:mod:`cimscope.www.ert`: the artifact's SM energies, the analog6T primitive
for CiMUnit/CiMStorage, zero-energy CiM input/output buffers)."""
import json
from pathlib import Path

import pytest
import yaml

from refpaths import REFERENCE

from cimscope.cli import main
from cimscope.www import ert as www_ert

DESIGNS = REFERENCE / "www_artifact" / "designs"
VARIANTS = sorted(DESIGNS.glob("*/arch*.yaml"))
pytestmark = pytest.mark.skipif(not VARIANTS, reason="WWW artifact not available")

#: example/arch_cons.yaml and arch_model.yaml fix every factor for ResNet50's 3136x256x64 GEMM (resnet.txt row 5):
#: on another shape they are refused by name (the constraints multiply to the wrong size).
SHAPE = {"arch_cons": (3136, 256, 64), "arch_model": (3136, 256, 64)}
BERT = (512, 1024, 1024)


def _gemm(m: int, n: int, k: int) -> dict:
    return {"problem": {"version": 0.4, "instance": {"M": m, "N": n, "K": k}, "shape": {
        "name": "gemm_ABZ", "dimensions": ["M", "N", "K"], "data_spaces": [
            {"name": "A", "projection": [[["M"]], [["K"]]]}, {"name": "B", "projection": [[["N"]], [["K"]]]},
            {"name": "Z", "projection": [[["M"]], [["N"]]], "read_write": True}]}}}


def _ert() -> dict:
    cim = www_ert.cim_energy("analog6T")
    rows = {n: www_ert.sm_energy(n) for n in ("DRAM", "SMEM", "RF", "LRF", "mac")}
    rows.update({"CiMUnit": cim["unit"], "CiMStorage": cim["storage"], "CiMInpBuffer": www_ert.ZERO,
                 "CiMOutBuffer": www_ert.ZERO})
    return {"ERT": {"version": "0.4", "tables": [
        {"name": f"system.{n}", "actions": [{"name": a, "energy": e} for a, e in acts.items()]}
        for n, acts in rows.items()]}}


def _sources(arch: Path, tmp: Path, shape: tuple[int, int, int]) -> list[str]:
    (tmp / "gemm.yaml").write_text(yaml.safe_dump(_gemm(*shape)), encoding="utf-8")
    return [str(arch), *map(str, sorted((DESIGNS / "_components").glob("*.yaml"))),
            str(DESIGNS / "_include" / "mapper.yaml"), str(tmp / "gemm.yaml")]


@pytest.mark.parametrize("arch", VARIANTS, ids=[f"{p.parent.name}/{p.stem}" for p in VARIANTS])
def test_every_map_the_mapper_writes_is_accepted_by_model(arch, tmp_path, capsys):
    ert = tmp_path / "ert.yaml"
    ert.write_text(yaml.safe_dump(_ert()), encoding="utf-8")
    shape = SHAPE.get(arch.stem, BERT) if arch.parent.name == "example" else BERT
    src = _sources(arch, tmp_path, shape)
    out = tmp_path / "out"
    rc = main(["mapper", *src, "--ert", str(ert), "--max-evaluations", "150", "--no-cache", "--json",
               "--out", str(out)])
    o, err = capsys.readouterr()
    assert rc == 0, err
    mapped = json.loads(o)
    assert mapped["computes"] == shape[0] * shape[1] * shape[2]
    # As with timeloopfe: the processed input written next to the map, and the map, evaluated again.
    rc = main(["model", str(out / "parsed-processed-input.yaml"), str(out / "timeloop-mapper.map.yaml"),
               "--ert", str(ert), "--json"])
    o, err = capsys.readouterr()
    assert rc == 0, err
    model = json.loads(o)
    assert model["cycles"] == mapped["cycles"]
    assert model["energy_pJ"] == pytest.approx(mapped["energy_pJ"], rel=1e-12)
    assert model["accesses"] == mapped["accesses"]


def test_constraints_for_another_shape_are_refused_by_name(tmp_path, capsys):
    """arch_cons.yaml's factors are ResNet50's 3136x256x64; on BERT's 512x1024x1024 the mapper says so in one line
    (never a mapping that breaks them)."""
    src = _sources(DESIGNS / "example" / "arch_cons.yaml", tmp_path, BERT)
    assert main(["mapper", *src, "--max-evaluations", "10", "--no-cache", "--objective", "delay"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "constraints fix every factor of N" in err[0] and "not 1024" in err[0], err
