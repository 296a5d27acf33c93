"""What every tool shares: one line and a status for a user mistake or Ctrl-C, and model files
known by their suffix in any case."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

from lce_models import cli
from lce_models.errors import UserError
from lce_models.runtimes import loader

import pytest


@pytest.mark.parametrize("raised,status,line", [
    (UserError("no such network"), cli.USAGE_ERROR, "error: no such network"),
    (KeyboardInterrupt(), cli.INTERRUPTED, "interrupted"),
])
def test_a_tool_ends_with_one_line_and_its_status(raised, status, line, capsys):
    @cli.main
    def tool(argv=None):
        raise raised

    assert tool([]) == status
    assert capsys.readouterr().err.strip() == line


def test_other_errors_are_not_swallowed():
    @cli.main
    def tool(argv=None):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        tool([])


@pytest.mark.parametrize("name", ["x.tflite", "x.TFLITE", "dir/x.Onnx"])
def test_model_files_are_known_by_their_suffix_in_any_case(name):
    assert loader.is_model_file(name)


def test_an_upper_case_model_file_is_loaded_as_a_file_not_a_network_name(tmp_path):
    with pytest.raises(loader.LoadError, match="model file not found"):
        loader.load(str(tmp_path / "model.TFLITE"))


def test_a_tool_starts_without_tensorflows_log_lines():
    """Here TensorFlow printed three cuFFT/cuDNN/cuBLAS registration errors at every start."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    root = Path(__file__).resolve().parent.parent
    start = [sys.executable, "-c", "import sys; sys.path.insert(0, 'tools'); import evaluate"]
    quiet = subprocess.run(start, capture_output=True, text=True, cwd=root, env=env, timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize("name", ["train_torch", "import_torch"])
def test_the_pytorch_tools_without_pytorch_say_what_installs_it(name):
    root = Path(__file__).resolve().parent.parent
    script = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['x', '--help']; "
              f"runpy.run_path('tools/{name}.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("error: this tool needs PyTorch, which is not installed: "
                                   ".venv/bin/pip install -r requirements-torch.txt")


ENTRY_POINTS = {"lce-convert": "convert", "lce-upscale": "upscale", "lce-evaluate": "evaluate",
                "lce-benchmark": "benchmark", "lce-train": "train"}


def test_console_entry_points_run_the_tools_mains():
    """``pip install -e .`` installs each entry point, and each is its ``tools/*.py``'s main."""
    from importlib.metadata import entry_points

    installed = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.name.startswith("lce-")}
    assert sorted(installed) == sorted(ENTRY_POINTS)
    for name, script in ENTRY_POINTS.items():
        main = installed[name].load()
        assert main.__module__ == f"tools.{script}" and main.__wrapped__.__code__.co_filename == str(
            Path(__file__).resolve().parent.parent / "tools" / f"{script}.py")
        assert (Path(sys.executable).parent / name).is_file()


def test_an_entry_point_answers_a_mistake_like_its_script():
    done = subprocess.run([str(Path(sys.executable).parent / "lce-evaluate"), "--sets", "Nowhere"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == cli.USAGE_ERROR
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: no test set 'Nowhere'")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_stages_print_a_line_each_and_tick_on_a_terminal():
    log = io.StringIO()
    with cli.Stages("bbcu-l to tflite", stream=log) as stage:
        stage("converting")
        stage("verifying against Keras on the photo input")
    lines = log.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines[:2]] == [
        "bbcu-l to tflite: converting", "bbcu-l to tflite: verifying against Keras on the photo input"]
    assert lines[2].startswith("bbcu-l to tflite: done after ") and lines[2].endswith(" s")
    terminal = _Terminal()
    with cli.Stages("job", stream=terminal, tick=0.01) as stage:
        stage("converting")
        time.sleep(0.2)
    ticks = terminal.getvalue().count("\rjob: converting (")
    assert ticks >= 3  # the clock ran while the stage did, rewriting its line in place
