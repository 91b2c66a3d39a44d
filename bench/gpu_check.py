"""The device kernels on a GPU, in one command: the kernel tests, GPU fill = CPU fill per dtype, and the speed of
the fills against torch's and against a device-to-device copy (the bandwidth reference).

    python bench/gpu_check.py                 # on a CUDA machine (after pip install .)
    python bench/gpu_check.py --interpret     # Triton's interpreter on CPU tensors, small sizes (what CI runs)

Writes its table to stdout and to --out (default gpu_check.md) for bench/RESULTS.md. Timings in --interpret mode
are the interpreter's and say nothing about a GPU; they are printed only to show the script runs end to end.
"""
import argparse
import os
import subprocess
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interpret", action="store_true", help="run the kernels in Triton's interpreter on CPU tensors")
    ap.add_argument("--out", default="gpu_check.md", help="file for the result table (default gpu_check.md)")
    ap.add_argument("--skip-tests", action="store_true", help="leave out the pytest run of the kernel tests")
    args = ap.parse_args(argv)
    if args.interpret:
        os.environ["TRITON_INTERPRET"] = "1"   # (before the kernels are defined)
    import numpy as np
    import torch

    from fastinit import backends
    from fastinit import device_kernels as D
    from fastinit import fillspec as F

    device = "cpu" if args.interpret else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --interpret for the interpreter on CPU tensors")
    lines = [f"# bench/gpu_check.py on {torch.cuda.get_device_name() if device == 'cuda' else 'the Triton interpreter (CPU)'}", ""]

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    if not args.skip_tests:
        env = dict(os.environ)
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                           "test_device_kernels.py")], env=env)
        say(f"kernel tests (tests/test_device_kernels.py on {device}): {'passed' if rc == 0 else f'FAILED (rc {rc})'}")
        say()

    # GPU fill = CPU fill, per dtype and kind
    n = 2**12 if args.interpret else 2**26
    torch_dtype = {"uint32": torch.int32, "float32": torch.float32, "float64": torch.float64,
                   "float16": torch.float16, "bfloat16": torch.bfloat16}
    say(f"## device fill vs the C core, {n} values (seed 2024, stream 5)")
    say()
    say("| kind | dtype | largest difference | elements that differ |")
    say("|---|---|---|---|")
    cases = [("raw", "uint32", ())] + [(k, d, a) for d in ("float32", "float64", "float16", "bfloat16")
                                       for k, a in (("uniform", (-1.0, 1.0)), ("normal", (0.0, 1.0)),
                                                    ("truncated_normal", (0.0, 1.0, -2.0, 2.0)))]
    for kind, dtype, a in cases:
        k, params = ("raw", F.PARAMS) if kind == "raw" else getattr(F, kind)(*a, dtype)
        spec = F.FillSpec(k, dtype, 2024, 5, params)
        host = np.empty(n, F.storage_dtype(dtype))
        backends.fill(spec, host)
        out = torch.empty(n, dtype=torch_dtype[dtype], device=device)
        D.fill(spec, out)
        if dtype in ("float16", "bfloat16"):
            got = out.cpu().view(torch.int16).numpy().view(np.uint16).astype(np.int64)
            ref = host.view(np.uint16).astype(np.int64)
            unit = " steps"
        else:
            got = out.cpu().numpy().view(host.dtype).astype(np.float64)
            ref = host.astype(np.float64)
            unit = ""
        diff = np.abs(got - ref)
        say(f"| {kind} | {dtype} | {diff.max():.3g}{unit} | {np.count_nonzero(diff)} |")
    say()

    # speed: bytes written per second, against torch's fills and a device-to-device copy of the same bytes
    sizes = [2**12] if args.interpret else [2**20, 2**24, 2**28, 2**30]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def best(fn, reps=1 if args.interpret else 20):
        fn()
        sync()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t)
        return min(times)

    say("## speed, float32 (best of the runs; the speed ratio to torch's fill, and the fill's bytes written per second "
        "as a fraction of a device-to-device copy's)")
    say()
    say("| elements | fill | fastinit ms | torch ms | fastinit / torch speed | fraction of copy |")
    say("|---|---|---|---|---|---|")
    for size in sizes:
        x = torch.empty(size, device=device)
        src = torch.empty(size, device=device)
        copy = best(lambda: x.copy_(src))
        for name, (k, params), peer in (
                ("normal", F.normal(0.0, 1.0, "float32"), lambda: x.normal_()),
                ("uniform", F.uniform(0.0, 1.0, "float32"), lambda: x.uniform_()),
                ("trunc_normal", F.truncated_normal(0.0, 1.0, -2.0, 2.0, "float32"),
                 lambda: torch.nn.init.trunc_normal_(x))):
            spec = F.FillSpec(k, "float32", 1, 0, params)
            ours = best(lambda: D.fill(spec, x))
            theirs = best(peer)
            # the copy reads and writes size * 4 bytes; a fill writes them: compare bytes written per second
            say(f"| 2^{size.bit_length() - 1} | {name} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | "
                f"{theirs / ours:.2f}x | {copy / ours:.2f} |")
    say()
    if args.interpret:
        say("(interpreter timings: they show the script runs, not what a GPU does)")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
