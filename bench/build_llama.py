"""Building a TinyLlama-1.1B-shaped transformers.LlamaForCausalLM from its config: stock against fastinit.fast_init,
float32 and bfloat16, each build in a fresh process (peak RSS is per process), alternating, median of the runs.

    python bench/build_llama.py [--runs 3] [--dtypes float32,bfloat16] [--json out.json]

Prints per build: wall seconds of the constructor call (the model class is imported before the clock starts),
peak RSS, and the split of the fast build (allocation of the parameters, their first touch (page faults), the
fills, and the rest: Python and transformers' own work). The builds run in the order fastinit, stock, fastinit,
... so that neither always gets memory the other has just handed back to the OS.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

CONFIG = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
              num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048)


def peak_rss():
    """This process's peak resident set (VmHWM; getrusage's ru_maxrss would keep the parent's peak across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(how, dtype):
    import torch
    import transformers

    import fastinit as fi

    torch_dtype = getattr(torch, dtype)
    cfg = transformers.LlamaConfig(**CONFIG)
    model_class = transformers.LlamaForCausalLM   # (transformers imports the model's module here: ~1 s, not timed)
    torch.manual_seed(0)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)   # the model is built in this dtype (no float32 copy first)
    try:
        t0 = time.perf_counter()
        if how == "stock":
            model = model_class(cfg)
            fills = None
        else:
            with fi.fast_init() as mode:
                model = model_class(cfg)
            fills = mode.fills
        seconds = time.perf_counter() - t0
    finally:
        torch.set_default_dtype(before)
    params = sum(p.numel() for p in model.parameters())
    assert next(model.parameters()).dtype == torch_dtype
    peak = peak_rss()
    print(json.dumps({"how": how, "dtype": dtype, "seconds": seconds, "peak_rss": peak, "params": params,
                      "fills": fills}))


def split(dtype):
    """Where the fast build's time goes, measured piece by piece on the model's parameter shapes in a fresh process:
    allocating them (torch.empty), the build's two passes (torch's kaiming_uniform_ of each Linear, then
    transformers' normal_) on fresh memory, and the same two passes again on memory already mapped: the
    difference is the first touch (page faults)."""
    import torch

    import fastinit as fi

    torch_dtype = getattr(torch, dtype)
    h, i, v, n = CONFIG["hidden_size"], CONFIG["intermediate_size"], CONFIG["vocab_size"], CONFIG["num_hidden_layers"]
    kv = h // CONFIG["num_attention_heads"] * CONFIG["num_key_value_heads"]
    shapes = [(v, h), (v, h)] + n * [(h, h), (kv, h), (kv, h), (h, h), (i, h), (i, h), (h, i)]
    t0 = time.perf_counter()
    tensors = [torch.empty(s, dtype=torch_dtype) for s in shapes]
    alloc = time.perf_counter() - t0
    gen = fi.Generator(0)

    def two_passes():
        t0 = time.perf_counter()
        for t in tensors:
            fi.init.uniform_(t, -0.02, 0.02, generator=gen)
        t1 = time.perf_counter()
        for t in tensors:
            fi.init.normal_(t, 0.0, 0.02, generator=gen)
        return t1 - t0, time.perf_counter() - t1

    first = sum(two_passes())
    uniform, normal = two_passes()
    print(json.dumps({"allocation": alloc, "page_faults": first - uniform - normal, "uniform_pass": uniform,
                      "normal_pass": normal}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--json")
    ap.add_argument("--child", nargs=2)
    ap.add_argument("--split")
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    if args.split:
        return split(args.split)
    results = {}
    for dtype in args.dtypes.split(","):
        runs = {"stock": [], "fastinit": []}
        for _ in range(args.runs):
            for how in ("fastinit", "stock"):
                out = subprocess.run([sys.executable, __file__, "--child", how, dtype], capture_output=True,
                                     text=True, check=True)
                runs[how].append(json.loads(out.stdout.strip().splitlines()[-1]))
                r = runs[how][-1]
                print(f"{dtype:>8} {how:>8}: {r['seconds']:6.2f} s, peak RSS {r['peak_rss'] / 2**30:5.2f} GiB, "
                      f"{r['params'] / 1e9:.3f}e9 parameters" + (f", {r['fills']} fills" if r["fills"] else ""),
                      flush=True)
        med = {how: statistics.median(r["seconds"] for r in rs) for how, rs in runs.items()}
        rss = {how: statistics.median(r["peak_rss"] for r in rs) for how, rs in runs.items()}
        out = subprocess.run([sys.executable, __file__, "--split", dtype], capture_output=True, text=True, check=True)
        sp = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{dtype}: stock {med['stock']:.2f} s, fastinit {med['fastinit']:.2f} s: "
              f"{med['stock'] / med['fastinit']:.2f}x; "
              f"peak RSS fastinit / stock = {rss['fastinit'] / rss['stock']:.3f}")
        rest = med["fastinit"] - sum(sp.values())
        print(f"{dtype} split of the fast build: allocation {sp['allocation']:.3f} s, page faults "
              f"{sp['page_faults']:.2f} s, kaiming_uniform_ pass {sp['uniform_pass']:.2f} s, normal_ pass "
              f"{sp['normal_pass']:.2f} s, the rest (Python, torch and transformers' own work) {rest:.2f} s",
              flush=True)
        results[dtype] = {"runs": runs, "median_seconds": med, "median_peak_rss": rss, "split": sp}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
