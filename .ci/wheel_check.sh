#!/usr/bin/env bash
# Packaging check (issue: wheels): python -m build (sdist + wheel), auditwheel show, the wheel's tests run from
# outside the repository in a fresh virtualenv, the sdist built in another, the OpenMP-less and AVX2-less builds
# tested too and their numbers compared with the default build's (.ci/build_numbers.py), and cibuildwheel's build list.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PY=python3

echo "== tools"
$PY -m venv "$WORK/tools"
"$WORK/tools/bin/pip" install -q --upgrade pip
"$WORK/tools/bin/pip" install -q build auditwheel cibuildwheel

echo "== cibuildwheel --print-build-identifiers"
for platform in linux macos windows; do
    ids="$(cd "$REPO" && "$WORK/tools/bin/cibuildwheel" --print-build-identifiers --platform "$platform" | tr '\n' ' ')"
    echo "$platform: $ids"
    case $platform in
        linux) want="cp310-manylinux_x86_64 cp313-manylinux_aarch64 cp312-musllinux_x86_64" ;;
        macos) want="cp310-macosx_x86_64 cp313-macosx_arm64" ;;
        windows) want="cp310-win_amd64 cp313-win_amd64" ;;
    esac
    for id in $want; do
        [[ " $ids " == *" $id "* ]] || { echo "missing build $id"; exit 1; }
    done
    [[ "$ids" != *"t-"* && "$ids" != *"i686"* && "$ids" != *"win32"* ]] || { echo "unintended builds: $ids"; exit 1; }
done

echo "== python -m build"
# from a copy of the tracked files: no build/ or generated C of a local build leaks into the packages
git -C "$REPO" archive --format=tar HEAD | (mkdir -p "$WORK/src" && tar -x -C "$WORK/src")
"$WORK/tools/bin/python" -m build --outdir "$WORK/dist" "$WORK/src" > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
ls -l "$WORK/dist"
SDIST="$(ls "$WORK"/dist/*.tar.gz)"
WHEEL="$(ls "$WORK"/dist/*.whl)"
# the published name (pyproject, README's install line and the wheel agree: tests/test_readme.py checks the
# first two, this the wheel)
case "$(basename "$WHEEL")" in fastinit_philox-*) ;; *) echo "wheel $(basename "$WHEEL") is not fastinit_philox-*"; exit 1 ;; esac
case "$(basename "$SDIST")" in fastinit_philox-*) ;; *) echo "sdist $(basename "$SDIST") is not fastinit_philox-*"; exit 1 ;; esac
if tar -tzf "$SDIST" | grep -E '(_core\.c|\.so)$'; then echo "the sdist ships build outputs"; exit 1; fi

echo "== auditwheel show"
"$WORK/tools/bin/auditwheel" show "$WHEEL"

# The variant builds differ from the default one only in the C core: they run the tests of what the C core computes
# (fills, statistics, threads, the simulation, training and probe kernels), the default wheel runs everything.
NUMERIC_TESTS="test_philox.py test_fill_vs_reference.py test_fill16.py test_statistics.py test_vmath.py
test_backends.py test_generator.py test_threads.py test_init.py test_init_torch.py test_initializers.py
test_simulation.py test_theory.py test_training.py test_probe.py test_fuzz.py"

run_tests() {   # venv, what to install, label, which tests ("all" or "numeric")
    local venv="$1" target="$2" label="$3" which="${4:-all}"
    local tests=("$REPO/tests")
    if [ "$which" = numeric ]; then
        tests=()
        for t in $NUMERIC_TESTS; do tests+=("$REPO/tests/$t"); done
    fi
    $PY -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q torch==2.13.0
    "$venv/bin/pip" install -q --no-cache-dir "$target[test]"
    (cd "$WORK" && "$venv/bin/python" - <<PY
import importlib, os, fastinit, sys
assert fastinit.__file__.startswith("$venv"), fastinit.__file__   # the installed package, not the source tree
# every sub-package shipped and importable (setuptools lists them), and the type markers beside the code
for part in ("random", "nn", "experiment", "cli", "cli.bench", "experiment.theory", "nn.schemes"):
    assert importlib.import_module("fastinit." + part).__file__.startswith("$venv"), part
here = os.path.dirname(fastinit.__file__)
assert os.path.exists(os.path.join(here, "py.typed")) and os.path.exists(os.path.join(here, "_core.pyi"))
PY
    )
    info="$(cd "$WORK" && "$venv/bin/fastinit" info)"
    grep -q "distribution fastinit-philox" <<< "$info" \
        || { echo "fastinit info does not name the distribution fastinit-philox: $info"; exit 1; }
    echo "-- $label: tests from $WORK (outside the repository)"
    (cd "$WORK" && "$venv/bin/python" -m pytest "${tests[@]}" -q -p no:cacheprovider -p no:logging -x)
    (cd "$WORK" && "$venv/bin/python" "$REPO/.ci/build_numbers.py" dump "$WORK/numbers-$label.npz") | tee "$WORK/build-$label"
}

echo "== the wheel in a fresh virtualenv"
run_tests "$WORK/venv-wheel" "$WHEEL" default

echo "== the sdist in a fresh virtualenv, and the build variants"
FASTINIT_NO_OPENMP=1 run_tests "$WORK/venv-noomp" "$SDIST" no-openmp numeric
grep -q "openmp=False" "$WORK/build-no-openmp" || { echo "FASTINIT_NO_OPENMP=1 still built OpenMP"; exit 1; }
FASTINIT_NO_AVX2=1 run_tests "$WORK/venv-noavx2" "$SDIST" no-avx2 numeric
grep -q "available=baseline$" "$WORK/build-no-avx2" || { echo "FASTINIT_NO_AVX2=1 still built AVX2"; exit 1; }

echo "== the same numbers from every build"
# the same SIMD path: bit for bit; the baseline path: raw words and uniforms bit for bit, the rest to the rounding
# that README's stream-format section promises
"$WORK/venv-wheel/bin/python" "$REPO/.ci/build_numbers.py" compare "$WORK/numbers-default.npz" "$WORK/numbers-no-openmp.npz" --exact
"$WORK/venv-wheel/bin/python" "$REPO/.ci/build_numbers.py" compare "$WORK/numbers-default.npz" "$WORK/numbers-no-avx2.npz"
echo "wheel check passed"
