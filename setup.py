"""Build the native backend: one extension module per .pyx in nncore/backends/native.

Each .pyx names the C sources from csrc/ it needs in a ``# distutils: sources = ...`` line,
so adding a kernel module needs no change here.
"""
import runpy
import sys
from glob import glob
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

# -fno-math-errno lets sqrt/exp vectorise (errno is never read). -fno-trapping-math lets
# GCC compute both sides of a select such as ReLU's `dy * (z > 0 ? 1 : 0)` and blend them
# (nothing reads the FP exception flags); without it that loop stayed scalar and branchy,
# 33x slower on random signs. Neither changes a computed value. No -march=native, so the
# wheel stays portable; hot loops use GCC target_clones for AVX2 at run time instead.
COMPILE_ARGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-Wno-unused-function"]

# csrc/blas.c finds NumPy's BLAS with dlopen/dlsym, which glibc before 2.34 keeps in libdl.
LIBRARIES = ["dl"] if sys.platform.startswith("linux") else []

def write_codes_header() -> None:
    """csrc/codes.h from nncore/backends/codes.py, the table Python uses: C's enums can
    never disagree with it. Rewritten only when it changes, so builds stay incremental."""
    text = runpy.run_path("nncore/backends/codes.py")["c_header"]()
    header = Path("csrc/codes.h")
    if not header.exists() or header.read_text() != text:
        header.write_text(text)


write_codes_header()

extensions = [
    Extension(
        f"nncore.backends.native.{Path(pyx).stem}",
        [pyx],
        include_dirs=["csrc"],
        extra_compile_args=COMPILE_ARGS,
        libraries=LIBRARIES,
    )
    for pyx in sorted(glob("nncore/backends/native/*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )
)
