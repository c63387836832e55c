"""The docs site builds as the README says: every notebook's executed copy (docs/notebooks, made at the laptop
preset by `python -m happy_utils notebooks --execute`; tests/test_executed.py checks they are the sources' cells)
renders with its figures and without an error, and every page of docs/ renders.

One build (mkdocs --strict, which also fails on a page left out of the nav and on a broken link or anchor) serves all
the tests of this module. It executes nothing: nbmake runs the sources, once.
"""

import html
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import mkdocs_jupyter  # noqa: F401  (the docs extra, which the README's test command installs: pip install -e ".[docs]")
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAGES = sorted((ROOT / "docs").glob("*.md"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("docs")
    out = tmp / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                           check=False, cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, f"mkdocs build failed:\n{build.stdout[-3000:]}\n{build.stderr[-12000:]}"
    return out


class _Outputs(HTMLParser):
    """The cells' output areas of a rendered notebook: their text (styles and scripts left out) and the sources of their
    images."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.stderr: list[bool] = []  # per output: stderr (a stream, or an error's traceback)
        self.images: list[str] = []
        self._depth = 0  # open <div>s
        self._inside: int | None = None  # the depth at which the output area now open began
        self._skip = 0  # open <style>s and <script>s

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div":
            self._depth += 1
            if self._inside is None and "jp-OutputArea-output" in (attrs.get("class") or "").split():
                self._inside = self._depth
                self.texts.append("")
                self.stderr.append(attrs.get("data-mime-type") == "application/vnd.jupyter.stderr")
        elif tag in ("style", "script"):
            self._skip += 1
        elif tag == "img" and self._inside is not None:
            self.images.append(attrs.get("src") or "")

    def handle_endtag(self, tag):
        if tag == "div":
            if self._inside == self._depth:
                self._inside = None
            self._depth -= 1
        elif tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data):
        if self._inside is not None and not self._skip:
            self.texts[-1] += data


def _page(site: Path, name: str) -> Path:
    return site / "index.html" if name == "index" else site / name / "index.html"


def test_the_site_has_every_notebook_and_page():
    assert len(NOTEBOOKS) == 6
    assert sorted(p.name for p in (ROOT / "docs" / "notebooks").glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    assert {"index", "fidelity", "quality"} <= {p.stem for p in PAGES}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_is_executed_and_rendered(site, notebook):
    page = _page(site / "notebooks", notebook.stem)
    assert page.exists(), f"no rendered page for {notebook.name}"
    assert (page.parent / notebook.name).exists(), "the notebook itself is offered for download (include_source)"
    parser = _Outputs()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.texts, f"{notebook.name}: no output at all (was it executed?)"
    assert any(src.startswith("data:image/png") for src in parser.images), f"{notebook.name}: no PNG figure"
    for text, stderr in zip(parser.texts, parser.stderr):
        assert "Traceback" not in text, f"{notebook.name}: an error output:\n{text[:2000]}"
        ename = stderr and re.search(r"^\s*\w*(Error|Exception)\b", text, re.MULTILINE)
        assert not ename, f"{notebook.name}: an error output:\n{text[:2000]}"


DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_equations_reach_the_page_whole_for_mathjax(site, notebook):
    """The maths of 02 (the VQ-VAE's loss), 04 (the MIO), 05 (the rank weights) and 06 (Top-K, FID, the tests) is in
    their markdown cells as LaTeX; on the page each display equation is left whole (no markdown emphasis or escapes
    taken out of it) for MathJax, which the page loads."""
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "markdown"]
    equations = [e.strip() for c in cells for e in DISPLAY_MATH.findall("".join(c["source"]))]
    if notebook.name[:2] in {"02", "04", "05", "06"}:
        assert equations, f"{notebook.name}: no display equation in its markdown"
    page = _page(site / "notebooks", notebook.stem).read_text(encoding="utf-8")
    assert not equations or "mathjax" in page.lower(), f"{notebook.name}: the page does not load MathJax"
    text = html.unescape(page)
    for equation in equations:
        assert equation in text, f"{notebook.name}: this equation is not whole on the page:\n{equation}"


@pytest.mark.parametrize("markdown", PAGES, ids=lambda p: p.stem)
def test_every_markdown_page_renders(site, markdown):
    page = _page(site, markdown.stem)
    assert page.exists(), f"no rendered page for docs/{markdown.name}"
    html = page.read_text(encoding="utf-8")
    source = markdown.read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", source, re.MULTILINE).group(1)
    words = re.sub(r"[*`]", "", title).split()[:3]
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL)
    assert h1 and all(word in h1.group(1) for word in words), f"docs/{markdown.name}: title {title!r} not rendered"
    tables = len(re.findall(r"^\|[-| :]+\|\s*$", source, re.MULTILINE))
    assert html.count("<table") >= tables, f"docs/{markdown.name}: {tables} tables in the source"
    assert "](" not in re.sub(r"<(pre|code)\b.*?</\1>", "", html, flags=re.DOTALL), "a link left as markdown"
    for src in re.findall(r'<img[^>]*src="([^"]+)"', html):
        if not src.startswith(("data:", "http")):
            assert (page.parent / src).resolve().exists(), f"docs/{markdown.name}: missing image {src}"


def test_the_index_links_every_notebook_and_page(site):
    article = _page(site, "index").read_text(encoding="utf-8").split("<article", 1)[1].split("</article>", 1)[0]
    hrefs = set(re.findall(r'href="([^"#]*)', article))
    for notebook in NOTEBOOKS:
        assert f"notebooks/{notebook.stem}/" in hrefs, notebook.name
    for markdown in PAGES:
        if markdown.stem != "index":
            assert f"{markdown.stem}/" in hrefs, markdown.name
