"""The device kernels compiled for real GPUs, without one: Triton compiles every specialisation the backend can
launch (KIND x OUT x ROWS_IN_MEMORY) for CUDA sm_80 (A100) and sm_90 (H100) to PTX and a cubin, and the PTX keeps
the stream format's arithmetic: no approximate instruction (``.approx``: fast sin/cos/log/rcp/sqrt), and no fused
multiply-add (launches pass ``enable_fp_fusion=False``, as the C core is built with ``-ffp-contract=off``) except
inside libdevice's own functions, which only the float64 truncated normal calls (``exp`` in its Halley step; that
fill's tolerance, 1e-12, covers them; Triton 3.2 also lowers the correctly rounded float32 square root to
libdevice's ``__nv_fsqrt_rn``, one exact operation). The interpreter tests (test_device_kernels.py) check the values;
these check what the GPU would run. About 0.5 s a specialisation here."""
import json
import os
import subprocess
import sys

import pytest

triton = pytest.importorskip("triton")

from fastinit.random import _triton as D  # noqa: E402

# what the backend launches: raw words as uint32, every distribution in the four float outputs
SPECIALISATIONS = [(kind, out, rows) for kind in D.KIND_CODES for out in D.OUT_CODES
                   if (kind == "raw") == (out == "uint32") for rows in (False, True)]
CALLS_LIBDEVICE = {("truncated_normal", "float64")}
# libdevice functions that are one correctly rounded operation (Triton 3.2 lowers sqrt_rn to one): no fma inside
EXACT_LIBDEVICE = {"__nv_fsqrt_rn", "__nv_dsqrt_rn"}
ARCHS = (80, 90)

# Run in a process of its own: the suite's TRITON_INTERPRET=1 (tests/conftest.py) makes triton.jit build
# interpreted functions, which the compiler does not take.
COMPILE = r"""
import inspect, json, re, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from fastinit.random import _triton as D

POINTER = {"float32": "*fp32", "float64": "*fp64", "uint32": "*i32", "float16": "*i16", "bfloat16": "*i16"}
CONSTEXPRS = ("KIND", "OUT", "ROWS_IN_MEMORY", "BLOCK")
# (Triton 3.2 calls them constants, later versions constexprs)
KEYWORD = "constexprs" if "constexprs" in inspect.signature(ASTSource.__init__).parameters else "constants"
report = {"triton": triton.__version__, "kernels": {}}
for arch, kind, out, rows in json.loads(sys.argv[1]):
    signature = {name: (POINTER[out] if name == "out_ptr" else "*i64" if name == "rows_ptr"
                        else "constexpr" if name in CONSTEXPRS else "i64") for name in D._fill.arg_names}
    values = {"KIND": D.KIND_CODES[kind], "OUT": D.OUT_CODES[out], "ROWS_IN_MEMORY": rows, "BLOCK": D.BLOCK}
    source = ASTSource(fn=D._fill, signature=signature, **{KEYWORD: values})
    kernel = triton.compile(source, target=GPUTarget("cuda", arch, 32), options={"enable_fp_fusion": False})
    ptx = kernel.asm["ptx"]
    report["kernels"][f"{arch}-{kind}-{out}-{rows}"] = {
        "target": f".target sm_{arch}" in ptx, "cubin": len(kernel.asm.get("cubin") or b""),
        "approx": re.findall(r"^.*[.]approx.*$", ptx, flags=re.M)[:3], "fma": len(re.findall(r"\bfma[.]", ptx)),
        "libdevice": sorted(set(re.findall(r"__nv_\w+", ptx)))}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def compiled():
    """{arch-kind-out-rows: what its PTX holds}, every specialisation compiled for every arch in one process."""
    jobs = [(arch, *spec) for arch in ARCHS for spec in SPECIALISATIONS]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run([sys.executable, "-c", COMPILE, json.dumps(jobs)], capture_output=True, text=True,
                         timeout=600, env=env)
    if run.returncode != 0 and "No module named 'triton.backends.compiler'" in run.stderr:
        pytest.skip("this Triton has no GPUTarget / ASTSource compile API")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])["kernels"]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kind, out, rows", SPECIALISATIONS,
                         ids=[f"{k}-{o}-{'rows' if r else 'offset'}" for k, o, r in SPECIALISATIONS])
def test_kernels_compile_without_approximate_math(compiled, arch, kind, out, rows):
    ptx = compiled[f"{arch}-{kind}-{out}-{rows}"]
    assert ptx["target"] and ptx["cubin"] > 0
    assert not ptx["approx"], ptx["approx"]
    if (kind, out) in CALLS_LIBDEVICE:
        assert ptx["libdevice"], "the float64 truncated normal should call libdevice's exp"
    else:
        assert ptx["fma"] == 0 and set(ptx["libdevice"]) <= EXACT_LIBDEVICE, ptx
