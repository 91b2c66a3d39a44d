"""The device kernels on a GPU, in one command: the kernel and GPU tests, GPU fill = CPU fill per dtype, the speed
of the fills against torch's and against a device-to-device copy (the bandwidth reference), torch's and fastinit's
numbers on the GPU beside their CPU numbers for the same seed, and a TinyLlama-1.1B-shaped LlamaForCausalLM built on
the GPU (stock and under fast_init) against its CPU build.

    python bench/gpu_check.py                 # on a CUDA machine (after pip install .)
    python bench/gpu_check.py --interpret     # Triton's interpreter on CPU tensors, small sizes (what CI runs)

Writes its table to stdout and to --out (default gpu_check.md) for bench/RESULTS.md. In --interpret mode the
"device" is the CPU (the interpreter's tensors), the sizes and the model are small, and the device kernels are made
to serve CPU tensors through the tests' switch (backends._INTERPRETER_SERVES_CPU): its timings and its torch
device-vs-CPU rows say nothing about a GPU; they show the script runs end to end.
"""
import argparse
import contextlib
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

    from fastinit.random import _backends as backends, _spec as F, _triton as D

    device = "cpu" if args.interpret else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --interpret for the interpreter on CPU tensors")
    where = torch.cuda.get_device_name() if device == "cuda" else "the Triton interpreter (CPU)"
    lines = [f"# bench/gpu_check.py on {where}", ""]

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    if not args.skip_tests:
        env = dict(os.environ)
        tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
        rc = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              os.path.join(tests, "test_device_kernels.py"), os.path.join(tests, "test_gpu.py")],
                             env=env)
        say(f"kernel tests (tests/test_device_kernels.py, tests/test_gpu.py on {device}): "
            f"{'passed' if rc == 0 else f'FAILED (rc {rc})'}")
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
        say()
        backends._INTERPRETER_SERVES_CPU = True   # the tests' stand-in: fast_init's device build uses the kernels
    same_seed_on_both(device, say, n=2**12 if args.interpret else 2**24)
    llama_on_both(device, say, tiny=args.interpret)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


@contextlib.contextmanager
def host_only():
    """The CPU references: the C core, also in --interpret mode (where the switch makes the kernels serve CPU)."""
    from fastinit.random import _backends as backends

    before, backends._INTERPRETER_SERVES_CPU = backends._INTERPRETER_SERVES_CPU, False
    try:
        yield
    finally:
        backends._INTERPRETER_SERVES_CPU = before


def _compare(device_tensors, cpu_tensors):
    """(largest difference, elements that differ, elements) over pairs of tensors."""
    import torch

    worst, differ, total = 0.0, 0, 0
    for a, b in zip(device_tensors, cpu_tensors):
        a = a.detach().cpu().double()
        d = (a - b.detach().double()).abs()
        worst = max(worst, float(d.max())) if d.numel() else worst
        differ += int(torch.count_nonzero(d))
        total += d.numel()
    return worst, differ, total


def same_seed_on_both(device, say, n):
    """torch's normal_ after torch.manual_seed(0) on the device and on the CPU, beside fastinit's for seed 0."""
    import torch

    import fastinit as fi

    say(f"## the same seed on {device} and on the CPU: {n} values of normal_ (float32)")
    say()
    say("| fill | largest difference | elements that differ |")
    say("|---|---|---|")
    rows = []
    for name, fill in (("torch.manual_seed(0); t.normal_()", lambda t: (torch.manual_seed(0), t.normal_())),
                       ("fi.init.normal_(t, generator=fi.Generator(0))",
                        lambda t: fi.init.normal_(t, generator=fi.Generator(0)))):
        on_device, on_cpu = torch.empty(n, device=device), torch.empty(n)
        fill(on_device)
        with host_only():
            fill(on_cpu)
        worst, differ, total = _compare([on_device], [on_cpu])
        rows.append(f"| `{name}` | {worst:.3g} | {differ} of {total} |")
    for row in rows:
        say(row)
    say()


LLAMA = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
             num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048)   # TinyLlama-1.1B
LLAMA_TINY = dict(vocab_size=256, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)


def llama_on_both(device, say, tiny):
    """A LlamaForCausalLM built with torch.device(device), stock and under fast_init(), against the CPU builds of the
    same seed, parameter by parameter."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    import fastinit as fi

    config = LlamaConfig(**(LLAMA_TINY if tiny else LLAMA))

    def build(where, fast):
        torch.manual_seed(0)
        t = time.perf_counter()
        with torch.device(where):
            if fast:
                with fi.fast_init(seed=0):
                    model = LlamaForCausalLM(config)
            else:
                model = LlamaForCausalLM(config)
        if where != "cpu":
            torch.cuda.synchronize()
        return model, time.perf_counter() - t

    shape = "a LlamaForCausalLM of a small config" if tiny else "TinyLlama-1.1B-shaped LlamaForCausalLM"
    say(f"## {shape} built on {device} against its CPU build (seed 0, float32)")
    say()
    say("| build | seconds on the device | parameters | equal to the CPU build | largest difference "
        "| elements that differ |")
    say("|---|---|---|---|---|---|")
    for name, fast in (("stock (torch.manual_seed(0))", False), ("fi.fast_init(seed=0)", True)):
        model, seconds = build(device, fast)
        params = [p for _, p in sorted(model.named_parameters())]
        with host_only():
            on_cpu, _ = build("cpu", fast)
        ref = [p for _, p in sorted(on_cpu.named_parameters())]
        equal = sum(bool(torch.equal(a.detach().cpu(), b.detach())) for a, b in zip(params, ref))
        worst, differ, total = _compare(params, ref)
        say(f"| {name} | {seconds:.2f} | {len(params)} | {equal} | {worst:.3g} | {differ} of {total} |")
        del model, on_cpu, params, ref
    say()


if __name__ == "__main__":
    main()
