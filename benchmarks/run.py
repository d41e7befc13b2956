"""Run nncore's benchmarks from a checkout.

    python benchmarks/run.py [--quick] [--output-dir DIR]

The same as ``python -m nncore bench``; benchmarks/README.md says what each number means.
"""
import sys
from pathlib import Path

# The checkout's nncore (built in place with `python setup.py build_ext --inplace`), not
# another installed copy: the numbers are about the code in this tree.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nncore.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
