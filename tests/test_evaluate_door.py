"""`cimscope evaluate` / `compare` options are validated at the door (issue 14): every out-of-range size,
--top, a bad --rounding (whatever the placement) and an unknown --model give one error line and exit 2 before
any export (the model build is stubbed by the fuzz harness: reaching it is the finding "late")."""
import pytest

from fuzz_cases import HUGE_INTS, Case, run_case

from cimscope.validation import BATCH_RANGE, IMAGE_SIZE_RANGE, SEQ_LEN_RANGE


def refused(tmp_path, cmd, *argv):
    case = Case(cmd, ("--cache-dir", "{dir}/c", *argv), True, f"{cmd} {' '.join(argv)}")
    outcome = run_case(case, tmp_path)
    assert outcome.kind == "clean2", f"{case.what}: {outcome.summary()}"
    assert "exporting" not in outcome.err
    return outcome.err.strip()


@pytest.mark.parametrize("cmd", ["evaluate", "compare"])
@pytest.mark.parametrize("flag,rng", [("--batch", BATCH_RANGE), ("--image-size", IMAGE_SIZE_RANGE),
                                      ("--seq", SEQ_LEN_RANGE)])
def test_sizes_refused_before_export(cmd, flag, rng, tmp_path):
    for value in HUGE_INTS + [str(rng[0] - 1), str(rng[1] + 1)]:
        err = refused(tmp_path, cmd, "--model", "resnet18", flag, value)
        assert flag in err and f"an integer in [{rng[0]}, {rng[1]}]" in err, err


@pytest.mark.parametrize("value", ["0", "-1"])
def test_top_refused_before_export(value, tmp_path):
    err = refused(tmp_path, "evaluate", "--model", "resnet18", "--top", value)
    assert "--top" in err and "an integer >= 1" in err


@pytest.mark.parametrize("placement", ["none", "rf"])
def test_bogus_rounding_refused_whatever_the_placement(placement, tmp_path):
    err = refused(tmp_path, "evaluate", "--model", "resnet18", "--placement", placement, "--rounding", "bogus")
    assert "rounding 'bogus'" in err and "www" in err


@pytest.mark.parametrize("cmd", ["evaluate", "compare"])
def test_unknown_model_is_one_line_listing_known_models(cmd, tmp_path):
    err = refused(tmp_path, cmd, "--model", "resnet18,resnet99" if cmd == "compare" else "resnet99")
    assert len(err.splitlines()) == 1 and "resnet99" in err and "resnet50" in err


def test_ranges_have_one_source():
    import cimscope.bitfluid.sweep as bitfluid
    import cimscope.profile.measure as profile
    assert bitfluid.IMAGE_SIZE_RANGE is IMAGE_SIZE_RANGE and bitfluid.BATCH_RANGE is BATCH_RANGE
    assert (profile.BATCH_RANGE, profile.IMAGE_SIZE_RANGE, profile.SEQ_LEN_RANGE) == \
        (BATCH_RANGE, IMAGE_SIZE_RANGE, SEQ_LEN_RANGE) and profile.SEQ_LEN_RANGE is SEQ_LEN_RANGE
