"""The README and the docs pages are true line by line: the install line names the distribution pyproject builds,
every python block runs as written (each page in its own namespace, as a reader pastes it), every speed figure is
one of bench/RESULTS.md's, and every link between the pages leads somewhere."""
import os
import re
import subprocess
import sys

import pytest

import fastinit as fi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
RESULTS = os.path.join(ROOT, "bench", "RESULTS.md")
pytestmark = pytest.mark.skipif(not os.path.exists(README), reason="the README is not beside these tests")


def pages():
    """README.md and the docs pages a reader reads (the API pages are directives, not prose)."""
    found = [README]
    if os.path.isdir(DOCS):
        found += sorted(os.path.join(DOCS, f) for f in os.listdir(DOCS) if f.endswith(".md"))
    return found


PAGES = pages()


def text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_install_line_names_the_distribution():
    if sys.version_info >= (3, 11):
        import tomllib

        with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
            name = tomllib.load(f)["project"]["name"]
        assert name == fi.DISTRIBUTION
    readme = "\n".join(text(p) for p in PAGES)
    assert f"pip install {fi.DISTRIBUTION} " in text(README)
    # no install line for the unrelated package of the plain name
    assert not re.search(r"pip install (\"|')?fastinit(\[|\"|'|\s|$)", readme)


def python_blocks(path=None):
    """The python blocks of one page, or of every page."""
    paths = PAGES if path is None else [path]
    return [b for p in paths for b in re.findall(r"```python\n(.*?)```", text(p), flags=re.S)]


def run_as_script(block, path, timeout, **kwargs):
    """Run a README block as a user who pasted it into a file would: its own process, a fresh interpreter."""
    path.write_text(block)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_python_block_runs_as_written(page, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("matplotlib")
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)   # the blocks write their figures and CSVs here
    namespace = {"__name__": "__readme__"}
    name = os.path.relpath(page, ROOT)
    for i, block in enumerate(python_blocks(page)):
        if 'if __name__ == "__main__":' in block:   # a script: run as one, in its own process, as a user would
            run = run_as_script(block, tmp_path / f"block_{i + 1}.py", timeout=600)
            assert run.returncode == 0, f"{name} python block {i + 1} fails as a script:\n{run.stderr[-3000:]}"
            continue
        try:
            exec(compile(block, f"{name} python block {i + 1}", "exec"), namespace)
        except Exception as exc:   # pragma: no cover - the failure message is the point
            pytest.fail(f"{name} python block {i + 1} fails: {type(exc).__name__}: {exc}\n{block}")


def test_the_pages_hold_their_blocks():
    # (a page moved or emptied would pass the test above with nothing run)
    assert len(python_blocks()) >= 17
    assert len(python_blocks(README)) >= 3
    assert os.path.exists(os.path.join(DOCS, "sampling.md")) and "## Stream format" in text(
        os.path.join(DOCS, "sampling.md"))


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def test_links_between_the_pages_lead_somewhere():
    """README -> docs/*.md and page -> page links (mkdocs build --strict checks the site; the README is not in it),
    and every page is in mkdocs.yml's navigation."""
    broken = []
    for page in PAGES:
        for target, anchor in LINK.findall(text(page)):
            if target.startswith(("http://", "https://")):
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(page), target))
            if not os.path.exists(path):
                broken.append(f"{os.path.relpath(page, ROOT)} -> {target}")
            elif anchor and path.endswith(".md"):
                slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                         for h in re.findall(r"(?m)^#+ (.*)$", text(path))}
                if anchor[1:] not in slugs:
                    broken.append(f"{os.path.relpath(page, ROOT)} -> {target}{anchor}")
    assert not broken, broken
    nav = text(os.path.join(ROOT, "mkdocs.yml"))
    for page in PAGES[1:]:
        assert f" {os.path.basename(page)}" in nav, f"{page} is not in mkdocs.yml's nav"


def test_the_keras_block_runs_where_no_backend_was_chosen(tmp_path):
    """A user pastes the Keras block into a script on a machine with no KERAS_BACKEND and no ~/.keras (conftest
    sets the variable for the suite): Keras 3 then picks TensorFlow, which the package does not install."""
    pytest.importorskip("keras")
    pytest.importorskip("jax")
    blocks = [b for b in python_blocks() if re.search(r"^import keras$", b, flags=re.M)]
    assert len(blocks) == 1
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    env["HOME"] = str(tmp_path)   # no ~/.keras/keras.json naming a backend
    run = run_as_script(blocks[0], tmp_path / "keras_block.py", timeout=300, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]


FIGURE = re.compile(r"(?<![\w.*^])(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?)(x|\s?ms|\s?us|\s?s)\b")
# numbers in the README that are not measurements (ratios of the theory, a description of the host)
NOT_MEASURED = {"0.22x", "2x", "0.62", "1.11", "4.2x"}


def test_every_speed_figure_comes_from_results():
    results = text(RESULTS)
    readme = "\n".join(re.sub(r"```.*?```", lambda m: "\n".join(l.split("#", 1)[1] if "#" in l else "" for l in
                                                               m.group(0).splitlines()), text(p), flags=re.S)
                       for p in PAGES)
    missing = []
    for m in FIGURE.finditer(readme):
        token = m.group(0).replace(" ", "")
        number, unit = m.group(1), m.group(2).strip()
        if token in NOT_MEASURED or number in NOT_MEASURED:
            continue
        for end in number.split("-"):   # a range: each end is a measurement
            if not re.search(rf"(?<![\d.]){re.escape(end)}(?![\d])", results):
                missing.append(f"{end}{unit}")
    assert not missing, f"README figures not in bench/RESULTS.md: {missing}"


def test_speed_table_is_generated_from_results():
    import subprocess

    tool = os.path.join(ROOT, "tools", "speed_table.py")
    if not os.path.exists(tool):
        pytest.skip("tools/ is not beside these tests")
    out = subprocess.run([sys.executable, tool, "--check"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_the_fsdp2_block_runs_under_torchrun_and_as_a_script(tmp_path):
    """The sharded-model block as a user runs it: `torchrun --nproc_per_node 2` (its ranks took the one-rank
    fallback on random ports and waited for each other forever; started right, check_ranks_agree after the block
    compared the ranks' OS-seeded default generators) and as a plain script."""
    pytest.importorskip("torch")
    import socket

    blocks = [b for b in python_blocks() if "fully_shard" in b]
    assert len(blocks) == 1
    script = tmp_path / "fsdp_init.py"
    script.write_text(blocks[0] + "\nopen(f\"done_{__import__('os').environ.get('RANK', 'alone')}\", 'w').close()\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master-addr",
                          "127.0.0.1", "--master-port", str(port), str(script)], capture_output=True, text=True,
                         timeout=240, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert (tmp_path / "done_0").exists() and (tmp_path / "done_1").exists()   # (the ranks' prints interleave)
    alone = run_as_script(blocks[0], tmp_path / "fsdp_alone.py", timeout=240, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr[-3000:]
