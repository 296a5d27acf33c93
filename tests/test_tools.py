"""The command-line tools: user mistakes are one line and exit status 2, never a traceback."""

import importlib.util
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--model", "edsr"], "unknown network 'edsr'"),
        (["--model", "bbcu-dn", "--scale", "4"], "bbcu-dn supports scale 1, not 4"),
        (["--padding", "reflect"], "unknown padding 'reflect'"),
        (["--image", "/nonexistent.png", "--input-size", "8x8", "--model", "bbcu-dn"], "image not found"),
    ],
)
def test_convert_user_mistakes(argv, message, capsys, tmp_path):
    assert tool("convert")(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_convert_rejects_a_bad_size():
    with pytest.raises(SystemExit) as e:  # argparse's own exit for a malformed flag
        tool("convert")(["--input-size", "180by320"])
    assert e.value.code == 2


def test_convert_writes_a_verified_flatbuffer(tmp_path, capsys):
    argv = ["--model", "bbcu-dn", "--input-size", "16x24", "--padding", "one", "--out", str(tmp_path)]
    assert tool("convert")(argv) == 0
    out = capsys.readouterr().out
    assert "LceBconv2d 18" in out and "wrote" in out
    assert [p.name for p in tmp_path.iterdir()] == ["bbcu-dn_x1_16x24.tflite"]
