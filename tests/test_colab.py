"""The notebooks' Colab install cell, run in a Colab-like fresh kernel: a new interpreter (a virtual environment that
sees the packages of the environment running the tests, as Colab's image has torch and ipykernel, but not this
repository), a stub `google.colab`, the repository URL pointing at a local clone. After the cell, `happy_utils` must
import in the same kernel from the installed clone at the pinned commit, and find the clone's shipped data."""

import json
import site
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _notebook_cell(name: str, starts: str) -> str:
    cells = json.loads((ROOT / "notebooks" / name).read_text())["cells"]
    return next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith(starts))


@pytest.fixture
def colab_kernel(tmp_path, monkeypatch) -> str:
    """A kernel spec named `colab-like`: a fresh virtual environment with a stub google.colab on its path.

    It sees this environment's site-packages through a `.pth` file. Not `venv --system-site-packages`: run from a
    virtual environment, that exposes the *base* interpreter's packages, which on a fresh machine have no ipykernel
    or torch, and the kernel dies. Only the paths are added, not their `.pth` files, so this environment's editable
    install of happy_utils stays out of sight, as on Colab."""
    venv = tmp_path / "colab-python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    own_site = next((venv / "lib").glob("python*/site-packages"))
    (own_site / "colab_image.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    stub = tmp_path / "stub" / "google" / "colab"  # no google/__init__.py: joins the google namespace package
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""Stands in for Colab\'s module: its presence is what the cell checks."""\n')
    spec = tmp_path / "jupyter" / "kernels" / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": {"PYTHONPATH": str(tmp_path / "stub"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return str(venv)


def test_the_install_cell_makes_happy_utils_importable_in_the_same_kernel(tmp_path, colab_kernel):
    ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    clone = tmp_path / "content" / "happy-people"
    settings = (f"import google.colab, os\nos.environ['HAPPY_REPO_URL'] = {str(ROOT)!r}\n"
                f"os.environ['HAPPY_REPO_REF'] = {ref!r}\nos.environ['HAPPY_CLONE_DIR'] = {str(clone)!r}")
    check = ("import subprocess, happy_utils\nfrom happy_utils.config import get_paths\n"
             "from happy_utils.scorers.loading import load_scorer\n"
             "print('FILE', happy_utils.__file__)\nprint('DATA', get_paths().data)\nprint('CWD', os.getcwd())\n"
             "print('HEAD', subprocess.run(['git', '-C', clone, 'rev-parse', 'HEAD'], capture_output=True, "
             "text=True).stdout.strip())\nprint('ORACLE', type(load_scorer('oracle', source='synthetic')).__name__)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(settings),
                                         nbformat.v4.new_code_cell(_notebook_cell("01_data_cropping.ipynb",
                                                                                  "# Colab: install")),
                                         nbformat.v4.new_code_cell(check)])
    NotebookClient(nb, kernel_name="colab-like", timeout=900, resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = dict(line.split(" ", 1) for out in nb.cells[2].outputs if out.get("name") == "stdout"
                   for line in out["text"].splitlines())
    site = Path(colab_kernel) / "lib"
    assert Path(printed["FILE"]).is_relative_to(site), f"happy_utils came from {printed['FILE']}, not the install"
    assert printed["HEAD"] == ref
    assert Path(printed["CWD"]) == clone / "notebooks"
    assert Path(printed["DATA"]) == clone / "data"
    assert printed["ORACLE"]

