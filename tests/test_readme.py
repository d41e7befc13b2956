"""README.md's Python examples run as written (MNIST from ../shared/data when present),
and its command-line session prints what it shows."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
SESSIONS = re.findall(r"```console\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    if "load_mnist" in code:
        mnist = SHARED_DATA / "mnist"
        if not (mnist / "t10k-images-idx3-ubyte.gz").exists():
            pytest.skip(f"MNIST files are absent from {mnist}")
        code = code.replace('"path/to/mnist"', repr(str(mnist)))
    monkeypatch.chdir(tmp_path)  # the first example saves iris.nnc
    exec(compile(code, f"README.md example {index}", "exec"), {})
    out = capsys.readouterr().out
    if "XOR(a, b)" in code:
        assert "[0, 1, 1, 0]" in out and "[ 2. -1.]" in out
    if "model.export(" in code:  # onnxruntime gives predict's outputs (tests/test_onnx.py)
        assert float(out.split("largest difference from predict:")[1]) < 1e-6
    if "cross_val_score" in code:
        accuracy = float(re.search(r"5-fold accuracy: ([\d.]+)", out).group(1))
        best = float(out.split()[-1])
        assert accuracy >= 0.9 and best >= 0.9 and "mlpclassifier__dropout" in out
    if "GradientMonitor" in code:  # the vanishing gradient, and ReLU + He keeping it
        ratios = dict(re.findall(r"(\w+): first layer / last layer gradient norm = (\S+)", out))
        assert float(ratios["sigmoid"]) < 1e-3 < 1e-2 < float(ratios["relu"])
        assert float(out.split("per layer:")[1]) < 1e-6
        assert (tmp_path / "gradients.png").stat().st_size > 0
    if "load_mnist" in code:
        loss, accuracy = (float(v) for v in re.findall(r"[\d.]+", out.splitlines()[-1]))
        assert accuracy >= 0.95


def _commands(session: str) -> list[tuple[str, list[str]]]:
    """``[(command, expected output lines)]`` of a console block: ``$ `` starts a command,
    the lines up to the next one are its standard output; ``...`` stands for any lines."""
    steps = []
    for line in session.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _matches(expected: list[str], actual: list[str]) -> bool:
    pattern = "\n".join(".*?" if line == "..." else re.escape(line) for line in expected)
    return re.fullmatch(pattern.replace("\n.*?\n", "\n(?:.*\n)*?"), "\n".join(actual),
                        re.S) is not None


def test_readme_has_a_command_line_session():
    assert len(SESSIONS) >= 1 and "python -m nncore train" in SESSIONS[0]


@pytest.mark.parametrize("index", range(len(SESSIONS)))
def test_readme_command_line_session(index, tmp_path):
    """Each command runs in a shell (pipes as written), in a fresh folder, with this
    checkout's nncore; its standard output is what the README shows."""
    pytest.importorskip("sklearn", reason="the session writes its CSV with scikit-learn")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    for command, expected in _commands(SESSIONS[index]):
        command = re.sub(r"^python ", f"{sys.executable} ", command)
        result = subprocess.run(command, shell=True, cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert _matches(expected, result.stdout.splitlines()), (command, result.stdout)


def test_the_session_matcher():
    assert _matches(["a", "...", "c"], ["a", "x", "y", "c"]) and _matches(["a", "...", "c"],
                                                                          ["a", "c"])
    assert not _matches(["a", "...", "c"], ["a", "x", "d"])
    assert not _matches(["0", "0"], ["0", "1"]) and not _matches(["a"], ["a", "b"])
