"""Build of the C core and its Cython wrapper.

The C kernels (csrc/) are compiled into the extension fastinit._core. kernels_avx2.c is compiled on its own
with AVX2+FMA flags (and chosen at run time only on CPUs that have them); everything else is portable C.
Build options (environment variables):
  FASTINIT_NO_OPENMP=1   serial build even where the compiler has OpenMP
  FASTINIT_NO_AVX2=1     leave the AVX2 path out (portable baseline only)
  FASTINIT_NATIVE=1      -march=native for a local build (never for distributed wheels)
"""
import os
import platform
import shutil
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"
PORTABLE_SOURCES = [os.path.join(CSRC, f) for f in ("runtime.c", "fill.c", "kernels_generic.c", "householder.c",
                                                    "layer.c", "layer_kernels.c", "tensor_stats.c", "testing.c",
                                                    "train.c")]
# Compiled with AVX2+FMA code generation (guarded inside by FASTINIT_HAVE_AVX2) and chosen at run time.
FILL_AVX2_SOURCE = os.path.join(CSRC, "kernels_avx2.c")
AVX2_SOURCES = [FILL_AVX2_SOURCE, os.path.join(CSRC, "layer_kernels_avx2.c")]


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _targets_x86():
    # macOS cross builds say what they target in ARCHFLAGS; a universal/arm64 target gets no x86 flags.
    archflags = os.environ.get("ARCHFLAGS", "")
    if "arm64" in archflags:
        return False
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _compiles(compiler, flags, code, link_flags=()):
    """Whether a small program builds with these flags (OpenMP is present in the compiler and its runtime)."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(code)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=list(flags))
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=list(link_flags))
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OPENMP_PROBE = ("#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n"
                "{n=omp_get_num_threads();}\nreturn n<1;}\n")


class BuildExt(build_ext):
    def build_extension(self, ext):
        msvc = self.compiler.compiler_type == "msvc"
        # -fno-trapping-math lets selects on floats vectorize; nothing here reads floating-point exception flags.
        cflags = ["/O2"] if msvc else ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
        ldflags = []
        if _flag("FASTINIT_NATIVE") and not msvc:
            cflags.append("-march=native")
        if not _flag("FASTINIT_NO_OPENMP"):
            omp_c, omp_l = (["/openmp"], []) if msvc else (["-fopenmp"], ["-fopenmp"])
            if _compiles(self.compiler, omp_c, OPENMP_PROBE, omp_l):
                cflags += omp_c
                ldflags += omp_l
            else:
                print("fastinit: the compiler has no usable OpenMP; building the serial version")
        avx2_flags = []
        macros = []
        if _targets_x86() and not _flag("FASTINIT_NO_AVX2"):
            avx2_flags = ["/arch:AVX2"] if msvc else ["-mavx2", "-mfma", "-mf16c"]
            macros = [("FASTINIT_HAVE_AVX2", "1")]
        # The AVX2 sources alone get the AVX2 flags: the rest must run on any CPU of the target.
        # -fno-wrapv undoes the -fwrapv of Python's CFLAGS for the fill kernels: with it, gcc 12 compiles their
        # Philox loops to ~1.6x as slow code (see philox_groups); they do no signed arithmetic that could wrap.
        headers = [os.path.join(CSRC, h) for h in os.listdir(CSRC) if h.endswith(".h")]
        objects = []
        for src in AVX2_SOURCES:
            extra = ["-fno-wrapv"] if avx2_flags and not msvc and src == FILL_AVX2_SOURCE else []
            objects += self.compiler.compile(
                [src], output_dir=self.build_temp, macros=macros, include_dirs=[CSRC],
                extra_postargs=cflags + avx2_flags + extra, depends=headers,
            )
        ext.extra_objects = list(ext.extra_objects or []) + objects
        ext.extra_compile_args = cflags
        ext.extra_link_args = ldflags
        super().build_extension(ext)


def extensions():
    from Cython.Build import cythonize

    core = Extension(
        "fastinit._core",
        sources=[os.path.join("src", "fastinit", "_core.pyx")] + PORTABLE_SOURCES,
        include_dirs=[CSRC],
        depends=[os.path.join(CSRC, f) for f in os.listdir(os.path.join(HERE, CSRC))],
    )
    return cythonize([core], compiler_directives={"language_level": "3", "boundscheck": False,
                                                  "wraparound": False, "cdivision": True})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
