"""Build the native backend: one extension module, nncore.backends.native._kernels.

_kernels.pyx includes the Cython of every kernel group (nncore/backends/native/*.pxi) and
is compiled with the C of csrc/ once; the GEMMs link scipy-openblas64, the declared BLAS.
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
# -fvisibility=hidden: the module exports its init function only, not the C kernels.
COMPILE_ARGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-Wno-unused-function",
                "-fvisibility=hidden"]


def blas() -> dict:
    """Compile and link against scipy-openblas64, the declared BLAS (a build requirement
    and a runtime dependency in pyproject.toml): its headers and its library.

    At run time nncore/backends/native/__init__.py loads the library from the installed
    package before the extension, so the extension finds it whatever the install
    (editable or not); the rpath below also finds it for a plain install, where the
    package sits in the same site-packages as nncore."""
    import scipy_openblas64 as openblas

    return {
        "include_dirs": ["csrc", openblas.get_include_dir()],
        "library_dirs": [openblas.get_lib_dir()],
        "libraries": [openblas.get_library()],
    }


# Linux: find the BLAS beside nncore in site-packages, and export the init function only
# (csrc/exports.map says why -fvisibility=hidden is not enough).
LINK_ARGS = ["-Wl,-rpath,$ORIGIN/../../../scipy_openblas64/lib",
             "-Wl,--version-script=csrc/exports.map"]
if not sys.platform.startswith("linux"):
    LINK_ARGS = []


def write_codes_header() -> None:
    """csrc/codes.h from nncore/backends/codes.py, the table Python uses: C's enums can
    never disagree with it. Rewritten only when it changes, so builds stay incremental."""
    text = runpy.run_path("nncore/backends/codes.py")["c_header"]()
    header = Path("csrc/codes.h")
    if not header.exists() or header.read_text() != text:
        header.write_text(text)


write_codes_header()

kernels = Extension(
    "nncore.backends.native._kernels",
    ["nncore/backends/native/_kernels.pyx", *sorted(glob("csrc/*.c"))],
    depends=sorted(glob("csrc/*.h") + glob("nncore/backends/native/*.pxi") +
                   ["csrc/exports.map"]),
    extra_compile_args=COMPILE_ARGS,
    extra_link_args=LINK_ARGS,
    **blas(),
)

setup(ext_modules=cythonize([kernels]))
