"""The executed copies of the notebooks (docs/notebooks) are the sources' cells, run by the current package version at
the laptop preset, made from a commit of this repository; and `execute` and `stale` do what the command says."""

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from happy_utils import __version__
from happy_utils.experiments.executed import EXECUTED_DIR, METADATA_KEY, execute, stale

ROOT = Path(__file__).resolve().parents[1]
COPIES = sorted((ROOT / EXECUTED_DIR).glob("*.ipynb"))


def test_every_executed_copy_is_current():
    assert stale(ROOT / "notebooks", ROOT / EXECUTED_DIR) == {}, (
        "run `python -m happy_utils notebooks --execute` (--only NAME for one) and commit docs/notebooks")


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.stem)
def test_a_copy_shows_the_laptop_preset_from_a_commit_of_this_repository(copy):
    record = json.loads(copy.read_text())["metadata"][METADATA_KEY]
    assert record["preset"] == "laptop" and record["source"] == f"notebooks/{copy.name}"
    commit = record["commit"].removesuffix("+changes")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the commit cannot be looked up")
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
                           capture_output=True, text=True)
    assert found.returncode == 0, f"{copy.name} was made at {commit}, which this repository does not have"


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a lesson")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_execute_runs_at_the_preset_and_records_it_and_stale_sees_every_change(tmp_path):
    sources, copies = tmp_path / "notebooks", tmp_path / "copies"
    sources.mkdir()
    show = "import os\nprint(os.environ['HAPPY_PRESET'], os.environ['HAPPY_RUNS_DIR'])"
    source = _notebook(sources / "01_x.ipynb", show, "1 + 1")
    assert stale(sources, copies) == {"01_x.ipynb": f"no executed copy in {copies}"}

    made = execute(source, copies, "smoke", tmp_path / "runs")
    nb = json.loads(made.read_text())
    assert "".join(nb["cells"][1]["outputs"][0]["text"]) == f"smoke {tmp_path / 'runs'}\n"
    assert "".join(nb["cells"][2]["outputs"][0]["data"]["text/plain"]) == "2"
    assert nb["metadata"][METADATA_KEY]["preset"] == "smoke"
    assert nb["metadata"][METADATA_KEY]["package_version"] == __version__
    assert stale(sources, copies) == {}

    _notebook(source, show, "1 + 2")
    assert stale(sources, copies) == {"01_x.ipynb": "cell 2 differs from the source's (3 cells, the source 3)"}
    _notebook(source, show, "1 + 1")

    no_record = f"no '{METADATA_KEY}' metadata: not made by `python -m happy_utils notebooks --execute`"
    edits = [(lambda nb: nb["metadata"][METADATA_KEY].update(package_version="0.0.1"),
              f"made with happy_utils 0.0.1, this is {__version__}"),
             (lambda nb: nb["metadata"].pop(METADATA_KEY), no_record),
             (lambda nb: nb["cells"][2]["outputs"].append({"output_type": "error", "ename": "E", "evalue": "",
                                                           "traceback": []}), "an output is an error"),
             (lambda nb: nb["cells"][2].update(execution_count=None), "a code cell was not executed")]
    executed = made.read_text()
    for edit, why in edits:
        nb = json.loads(executed)
        edit(nb)
        made.write_text(json.dumps(nb))
        assert stale(sources, copies) == {"01_x.ipynb": why}

    made.write_text(executed)
    with pytest.raises(Exception, match="no face"):
        execute(_notebook(sources / "01_x.ipynb", "raise ValueError('no face')"), copies, "smoke", tmp_path / "runs")
    assert made.read_text() == executed, "a failed execution leaves the former copy as it was"


def test_a_release_leaves_the_copies_current_and_nothing_else_does(tmp_path):
    """A release changes the pinned ref in every notebook's badge and install cell; that does nothing off Colab, so
    the copies stay current. Any other change to those cells makes them stale."""
    from happy_utils.experiments.colab import INSTALL_CELL, REPO_REF, badge

    sources, copies = tmp_path / "notebooks", tmp_path / "copies"
    sources.mkdir()
    copies.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# 01\n\n{badge('01_x.ipynb')}"),
                                         nbformat.v4.new_code_cell(INSTALL_CELL)])
    nb.metadata[METADATA_KEY] = {"package_version": __version__}
    nb.cells[1].execution_count = 1
    nbformat.write(nb, copies / "01_x.ipynb")
    released = json.loads(json.dumps(nb).replace(REPO_REF, "0123456789abcdef0123456789abcdef01234567"))
    (sources / "01_x.ipynb").write_text(json.dumps(released))
    assert stale(sources, copies) == {}
    (sources / "01_x.ipynb").write_text(json.dumps(released).replace("pinned commit", "pinned tag"))
    assert stale(sources, copies) == {"01_x.ipynb": "cell 1 differs from the source's (2 cells, the source 2)"}
