"""The notebooks' Colab install cell, run in a Colab-like fresh kernel: a new interpreter (a virtual environment that
sees the packages of the environment running the tests, as Colab's image has torch and ipykernel, but not this
repository), a stub `google.colab`, the repository URL pointing at a local clone. After the cell, `happy_utils` must
import in the same kernel from the installed clone at the pinned commit, and find the clone's shipped data; a wrong
URL or ref must stop the cell with a message that names it. The pinned commit must be one this repository has."""

import json
import re
import site
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from happy_utils.experiments.colab import REPO_REF

ROOT = Path(__file__).resolve().parents[1]
DRIVE_OPTION = 'DRIVE = ""'


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
    (stub / "drive.py").write_text('"""Records where Drive is mounted."""\nmounted = []\n\n\n'
                                   'def mount(mountpoint, **kwargs):\n    mounted.append(mountpoint)\n')
    spec = tmp_path / "jupyter" / "kernels" / "colab-like"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": {"PYTHONPATH": str(tmp_path / "stub"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return str(venv)


def _run_install_cell(tmp_path: Path, url: str, ref: str, drive: str = "", then: str = "pass") -> dict[str, str]:
    """Run 01's install cell in the Colab-like kernel with this URL and ref and `DRIVE = drive`, then the code `then`:
    what it printed, one `NAME value` a line. A failing cell raises CellExecutionError."""
    cell = _notebook_cell("01_data_cropping.ipynb", "# Colab: install")
    assert DRIVE_OPTION in cell, "the install cell lost its one-line Drive option"
    clone = tmp_path / "content" / "happy-people"
    settings = (f"import google.colab, os\nos.environ['HAPPY_REPO_URL'] = {url!r}\n"
                f"os.environ['HAPPY_REPO_REF'] = {ref!r}\nos.environ['HAPPY_CLONE_DIR'] = {str(clone)!r}")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in
                                         (settings, cell.replace(DRIVE_OPTION, f"DRIVE = {drive!r}"), then)])
    NotebookClient(nb, kernel_name="colab-like", timeout=900, resources={"metadata": {"path": str(tmp_path)}}).execute()
    return dict(line.split(" ", 1) for out in nb.cells[2].outputs if out.get("name") == "stdout"
                for line in out["text"].splitlines())


def test_the_install_cell_makes_happy_utils_importable_in_the_same_kernel_and_keeps_runs_on_drive(tmp_path,
                                                                                                colab_kernel):
    ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    clone = tmp_path / "content" / "happy-people"
    drive = tmp_path / "drive" / "happy"
    check = ("import subprocess, happy_utils\nfrom google.colab import drive\n"
             "from happy_utils.config import get_paths\nfrom happy_utils.scorers.loading import load_scorer\n"
             "print('FILE', happy_utils.__file__)\nprint('DATA', get_paths().data)\nprint('CWD', os.getcwd())\n"
             "print('RUNS', get_paths().runs)\nprint('CACHE', get_paths().cache)\nprint('MOUNTED', *drive.mounted)\n"
             "print('HEAD', subprocess.run(['git', '-C', clone, 'rev-parse', 'HEAD'], capture_output=True, "
             "text=True).stdout.strip())\nprint('ORACLE', type(load_scorer('oracle', source='synthetic')).__name__)")
    printed = _run_install_cell(tmp_path, str(ROOT), ref, drive=str(drive), then=check)
    site = Path(colab_kernel) / "lib"
    assert Path(printed["FILE"]).is_relative_to(site), f"happy_utils came from {printed['FILE']}, not the install"
    assert printed["HEAD"] == ref
    assert Path(printed["CWD"]) == clone / "notebooks"
    assert Path(printed["DATA"]) == clone / "data"
    assert printed["ORACLE"]
    assert printed["MOUNTED"] == "/content/drive"
    assert Path(printed["RUNS"]) == drive / "runs" and Path(printed["CACHE"]) == drive / "cache"


@pytest.mark.parametrize("wrong", ["ref", "url"])
def test_a_wrong_ref_or_url_stops_the_install_cell_with_what_it_tried(tmp_path, colab_kernel, wrong):
    url = str(tmp_path / "no-such-repository") if wrong == "url" else str(ROOT)
    ref = "0000000000000000000000000000000000000000" if wrong == "ref" else REPO_REF
    with pytest.raises(CellExecutionError) as err:
        _run_install_cell(tmp_path, url, ref)
    assert err.value.ename == "RuntimeError"
    said = err.value.evalue
    assert said.startswith(f"could not install happy_utils from {url} at {ref}: git ")
    first, reason = said.splitlines()[:2]
    assert ("checkout" if wrong == "ref" else "clone") in first and reason.startswith(("error:", "fatal:")), said
    assert "Set $HAPPY_REPO_URL and $HAPPY_REPO_REF" in said


needs_git = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")


@needs_git
def test_the_pinned_ref_is_a_commit_on_this_repositorys_history():
    """A tag is not published with this repository and a branch moves: the badges and install cells pin a commit,
    which must be on the history that is published (not left behind by a squash or a rebase)."""
    assert re.fullmatch(r"[0-9a-f]{40}", REPO_REF), f"REPO_REF {REPO_REF!r} is not a full commit hash"
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{REPO_REF}^{{commit}}"],
                           capture_output=True, text=True)
    assert found.returncode == 0 and found.stdout.strip() == REPO_REF, f"no commit {REPO_REF} here: {found.stderr}"
    on_history = subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", REPO_REF, "HEAD"])
    assert on_history.returncode == 0, f"commit {REPO_REF} is not an ancestor of HEAD"


@needs_git
def test_the_notebooks_a_badge_opens_install_the_package_they_were_written_with():
    """The badges open the notebooks at REPO_REF, whose install cells pin an earlier commit (a notebook cannot name the
    commit it is in): both must hold the same package, shipped data and requirements (colab.py's release)."""
    pinned = subprocess.run(["git", "-C", str(ROOT), "show", f"{REPO_REF}:happy_utils/experiments/colab.py"],
                            capture_output=True, text=True, check=True).stdout
    installed = re.search(r'^REPO_REF = "([0-9a-f]{40})"$', pinned, re.MULTILINE)
    assert installed, f"the notebooks at {REPO_REF} pin no commit to install"
    differ = subprocess.run(["git", "-C", str(ROOT), "diff", "--name-only", installed[1], REPO_REF, "--", "happy_utils",
                             "pyproject.toml", "data", ":(exclude)happy_utils/experiments/colab.py"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert not differ, (f"the notebooks at {REPO_REF} install {installed[1]}, which differs in {differ}: release in "
                        "two commits (happy_utils/experiments/colab.py)")
