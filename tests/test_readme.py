"""README.md's Python examples run as written (MNIST from ../shared/data when present)."""
import re
from pathlib import Path

import pytest

from conftest import SHARED_DATA

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


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
    if "cross_val_score" in code:
        accuracy = float(re.search(r"5-fold accuracy: ([\d.]+)", out).group(1))
        best = float(out.split()[-1])
        assert accuracy >= 0.9 and best >= 0.9 and "mlpclassifier__dropout" in out
    if "load_mnist" in code:
        loss, accuracy = (float(v) for v in re.findall(r"[\d.]+", out.splitlines()[-1]))
        assert accuracy >= 0.95
