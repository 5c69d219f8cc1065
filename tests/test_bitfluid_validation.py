"""`cimscope bitfluid` validates at the door (issue 14): precision configs, options and the --arch file are
checked with pydantic before any model export; each bad input is one line on stderr, exit 2, no traceback."""
import pytest

from cimscope.cli import main

CONFIGS = {
    "nan.yaml": ("layers:\n  conv1: {w_bits: .nan, a_bits: 8}\n", ["w_bits", "an integer in [1, 32]"]),
    "abc.yaml": ("configs:\n  a: {default: 8, top1: abc}\n", ["top1", "'abc'", "a percentage in [0, 100]"]),
    "t150.yaml": ("configs:\n  a: {default: 8, top1: 150}\n", ["top1", "150", "a percentage in [0, 100]"]),
    "empty.yaml": ("configs: {}\n", ["configs", "at least one configuration"]),
    "flstr.yaml": ("configs:\n  a: {default: 8, first_last_8bit: 'false'}\n", ["first_last_8bit", "true or false"]),
    "frac.yaml": ("configs:\n  a: {default: 4.5}\n", ["4.5", "an integer in [1, 32]"]),
    "bool.yaml": ("configs:\n  a: {default: true}\n", ["True", "an integer in [1, 32]"]),
    "neg.yaml": ("configs:\n  a: {default: 8, size_MB: -1}\n", ["size_MB", ">= 0"]),
    "inf.yaml": ("configs:\n  a: {default: 8, speedup: .inf}\n", ["speedup", "> 0"]),
    "key.yaml": ("configs:\n  a: {default: 8, colour: red}\n",
                 ["unknown key 'configs.a.colour'", "valid keys: layers"]),
    "dyn.yaml": ("configs:\n  a: {default: 8}\ndynamic: []\n", ["dynamic"]),
    "hawq.yaml": ("layers: [s1u1c1]\nconfigs:\n  a: {bits: [8, 4]}\n", ["1 layers"]),
    "list.yaml": ("[1, 2]\n", ["expected a mapping"]),
    "latin1.yaml": (b"layers:\n  conv\xe9: 8\n", ["not UTF-8 text", "byte 0xe9"]),
}


def _one_line_exit_2(capsys, argv, words):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bad_precision_configs(tmp_path, capsys, name):
    text, words = CONFIGS[name]
    f = tmp_path / name
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    _one_line_exit_2(capsys, ["bitfluid", "--model", "resnet18", "--configs", str(f)], words)


@pytest.mark.parametrize("opts, words", [
    (["--batch", "99999999"], ["--batch", "[1, 1024]"]),
    (["--batch", str(2 ** 70)], ["--batch", "[1, 1024]"]),
    (["--batch", "0"], ["--batch"]),
    (["--image-size", "100000"], ["--image-size", "[8, 1024]"]),
    (["--vdd", "nan"], ["--vdd", "finite"]),
    (["--vdd", "0.8,inf"], ["--vdd", "finite"]),
    (["--vdd", "-1"], ["--vdd"]),
    (["--node", "inf"], ["--node", "finite"]),
    (["--tech", ","], ["--tech", "sram, reram"]),
    (["--tech", "flash"], ["unknown AP cell 'flash'"]),
    (["--sequence", "nosuch"], ["nosuch", "valid: int8"]),
    (["--model", "resnet99"], ["unknown model 'resnet99'"]),
])
def test_bad_options_fail_before_export(capsys, opts, words):
    argv = ["bitfluid", "--model", "resnet18", "--configs", "int8", *opts]
    _one_line_exit_2(capsys, argv, words)


def test_bad_arch_file(tmp_path, capsys):
    f = tmp_path / "arch.yaml"
    f.write_bytes(b"name: caf\xe9\n")
    _one_line_exit_2(capsys, ["bitfluid", "--model", "resnet18", "--configs", "int8", "--arch", str(f)],
                     ["BF-IMNA config", "not UTF-8"])
    f.write_text("a: [1, 2\n")
    _one_line_exit_2(capsys, ["bitfluid", "--model", "resnet18", "--configs", "int8", "--arch", str(f)],
                     ["not valid YAML", "line"])


def test_valid_file_forms_are_read(tmp_path):
    from cimscope import bitfluid as bf
    f = tmp_path / "one.yaml"
    f.write_text("layers: {conv1: 8.0}\ndefault: {w_bits: 4, a_bits: 6}\ndynamic: [one, one]\n")
    (cfg,), dyn = bf.load_configs(str(f))
    assert cfg.layers["conv1"] == bf.LayerPrecision(8, 8) and cfg.uniform == bf.LayerPrecision(4, 6)
    assert dyn == ["one", "one"]                        # a single configuration's sequence is no longer ignored


def test_unwritable_folders_fail_before_export(tmp_path, capsys):
    f = tmp_path / "a-file"
    f.write_text("x")
    for opt, path in (("--cache-dir", f), ("--out", f / "sub")):
        _one_line_exit_2(capsys, ["bitfluid", "--model", "resnet18", "--configs", "int8", opt, str(path)],
                         [opt, "is not a writable folder"])
