"""Ratios from a pytest-benchmark JSON of bench/: python bench/report.py bench/fill.json [more.json ...]

Prints a Markdown table (comparison, speedup = baseline time / fastinit time from the minimum of the rounds,
target) ready for bench/RESULTS.md."""
import json
import sys

import cases


def load(paths):
    times, info, extra = {}, {}, {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        info = data.get("machine_info", info)
        for b in data["benchmarks"]:
            case = b["params"]["case"] if b.get("params") else b["name"]
            times[case] = b["stats"]["min"]
            extra.update(b.get("extra_info") or {})
    return times, info, extra


def main(paths):
    times, info, extra = load(paths)
    cpu = info.get("cpu", {}).get("brand_raw", "?")
    print(f"Machine: {cpu}, {info.get('cpu', {}).get('count', '?')} CPUs; minimum over the rounds.\n")
    print("| case | min time (ms) |\n|---|---|")
    for case, t in times.items():
        print(f"| {case} | {t * 1e3:.2f} |")
    print("\n| comparison | speedup | target | met |\n|---|---|---|---|")
    ratios = [r for r in cases.RATIOS if r[1] in times and r[2] in times]
    for label, ratio in cases.ratio_table(times, ratios):
        target = cases.TARGETS.get(label)
        r = "n/a" if ratio is None else f"{ratio:.2f}x"
        t = "-" if target is None else f">= {target:g}x"
        met = "-" if ratio is None or target is None else ("yes" if ratio >= target else "**no**")
        print(f"| {label} | {r} | {t} | {met} |")
    slow = [r for r in cases.SIM_SLOWDOWNS if r[1] in times and r[2] in times]
    if slow:
        print("\n| comparison | time ratio | bound | met |\n|---|---|---|---|")
        for label, ratio, bound in cases.slowdown_table(times, slow):
            if bound is None:
                print(f"| {label} | {ratio:.3f}x | - | - |")
            else:
                print(f"| {label} | {ratio:.3f}x | <= {bound:g}x | {'yes' if ratio <= bound else '**no**'} |")
    for key, value in extra.items():
        print(f"\n{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
