"""init_module on a ResNet-50-shaped transformers.ResNetModel (161 tensors, 25.6e6 parameters) with the machine's
cores shared: two busy processes (started and stopped by this script) spin on the cores while fastinit runs with
its default thread count and with 1 thread. Median of 9 calls per setting, 5 repetitions; the two settings take
turns call by call, so that both see the same share of the cores (the OS hands it out in slices of milliseconds).

    python bench/contention.py [--reps 5] [--calls 9] [--busy 2]

Prints, per repetition, the default-threads and 1-thread medians and their ratio, under contention and quiet.
"""
import argparse
import multiprocessing as mp
import statistics
import time


def spin(stop):
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def medians(model, threads_a, threads_b, calls):
    """Median seconds of init_module with threads_a and with threads_b, the calls interleaved."""
    import fastinit as fi

    before = fi.get_num_threads()
    gen = fi.Generator(0)
    times = {threads_a: [], threads_b: []}
    try:
        fi.init.init_module(model, generator=gen)   # warm: first touch
        for _ in range(calls):
            for threads in (threads_a, threads_b):
                fi.set_num_threads(threads)
                t0 = time.perf_counter()
                fi.init.init_module(model, generator=gen)
                times[threads].append(time.perf_counter() - t0)
    finally:
        fi.set_num_threads(before)
    return statistics.median(times[threads_a]), statistics.median(times[threads_b])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--calls", type=int, default=9)
    ap.add_argument("--busy", type=int, default=2)
    args = ap.parse_args()
    import torch
    import transformers

    import fastinit as fi

    model = transformers.ResNetModel(transformers.ResNetConfig())
    tensors = sum(1 for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    print(f"ResNetModel: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}e6 parameters, {tensors} conv/linear "
          f"weights; default threads {fi.get_num_threads()}")
    default = fi.get_num_threads()
    ctx = mp.get_context("spawn")
    for label, busy in (("contention", args.busy), ("quiet", 0)):
        ratios = []
        for rep in range(args.reps):
            stop = ctx.Event()
            procs = [ctx.Process(target=spin, args=(stop,)) for _ in range(busy)]
            for p in procs:
                p.start()
            time.sleep(0.3 if busy else 0)
            try:
                t_default, t_one = medians(model, default, 1, args.calls)
            finally:
                stop.set()
                for p in procs:
                    p.join()
            ratios.append(t_default / t_one)
            print(f"{label} rep {rep + 1}: default ({default} threads) {t_default * 1e3:7.2f} ms, 1 thread "
                  f"{t_one * 1e3:7.2f} ms: default / 1 thread = {t_default / t_one:.2f}x", flush=True)
        print(f"{label}: default / 1 thread over {args.reps} repetitions: {min(ratios):.2f}-{max(ratios):.2f}x "
              f"(median {statistics.median(ratios):.2f}x)", flush=True)


if __name__ == "__main__":
    main()
