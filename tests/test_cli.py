import json
import subprocess
import sys

import pytest

import fastinit as fi
from fastinit import _core, cli


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert fi.__version__ in out
    assert f"SIMD path      {_core.get_simd()}" in out
    assert ("OpenMP         yes" in out) == _core.have_openmp()
    assert f"threads        {fi.get_num_threads()}" in out


def test_info_as_a_program():
    out = subprocess.run([sys.executable, "-m", "fastinit.cli", "info"], capture_output=True, text=True, check=True)
    assert "SIMD path" in out.stdout


def test_bench_quick_writes_ratios(tmp_path, capsys, threads):
    path = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--json", str(path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "normal vs NumPy PCG64 standard_normal" in out
    data = json.loads(path.read_text())
    assert data["threads"] == 1 and data["elements"] == 2**22
    ratios = {r["comparison"]: r["speedup"] for r in data["ratios"]}
    assert ratios["normal vs NumPy PCG64 standard_normal"] > 0
    assert set(data["seconds"]) >= {"fastinit_normal", "ndarray_fill", "numpy_pcg64_standard_normal"}


def test_bad_arguments():
    with pytest.raises(SystemExit):
        cli.main(["bench", "--threads", "0"])
    with pytest.raises(SystemExit):
        cli.main([])
