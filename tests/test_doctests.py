"""Every ``>>>`` example in the package runs and prints what its docstring says.

The examples are the first code a reader tries, so a stale one is a bug. Each module of
nncore (compiled ones included) is one test, run with doctest's default comparison
(exact text) and NORMALIZE_WHITESPACE only; examples that need a file or data the test
machine lacks are marked ``# doctest: +SKIP`` in place.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import nncore

MODULES = sorted(info.name for info in pkgutil.walk_packages(nncore.__path__, "nncore.")
                 if info.name != "nncore.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in finder.find(module, name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_every_module_is_found():
    assert {"nncore.models", "nncore.saving", "nncore.backends.numpy_backend.plan",
            "nncore.layers.dense", "nncore.optimizers.adam"} <= set(MODULES)
