from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert "--nbmake" in ci_command and "HAPPY_PRESET=smoke" in ci_command
    readme_lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    assert ci_command in readme_lines


def test_notebooks_are_stored_without_outputs():
    import json

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name


def test_readme_claims_section_is_regenerated_from_the_committed_summaries():
    """`python -m happy_utils claims --report` writes it: the README quotes no other figure than results/laptop."""
    from happy_utils.experiments import claims, claims_report

    folder = ROOT / claims_report.README_RESULTS
    section = claims_report.readme_section(claims.read_results(folder), folder, ROOT / "README.md")
    assert section in (ROOT / "README.md").read_text()


def test_readme_beyond_section_is_regenerated_from_the_committed_summaries():
    """The "Beyond the paper" section, too, quotes only results/laptop (its prose there, `beyond.md`)."""
    from happy_utils.experiments import claims, claims_report

    folder = ROOT / claims_report.README_RESULTS
    section = claims_report.beyond_section(claims.read_results(folder), folder, ROOT / "README.md")
    assert "| vqvae-wr-neighbours | 5 |" in section and section in (ROOT / "README.md").read_text()


def test_licence_and_citation_agree_with_the_package_and_the_readme():
    """The package says MIT: the LICENSE file is MIT's; CITATION.cff and the README's BibTeX cite the same paper."""
    import re

    import yaml  # PyYAML, which mkdocs (the docs extra) brings

    import happy_utils

    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["license"] == "MIT" and cff["version"] == happy_utils.__version__
    paper = cff["preferred-citation"]
    bibtex = re.search(r"```bibtex\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL).group(1)
    fields = {k: " ".join(v.split()) for k, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\},?\n(?=\s*\w+\s*=|\})", bibtex,
                                                               re.DOTALL)}
    assert fields["title"] == paper["title"] and fields["year"] == str(paper["year"])
    assert fields["author"] == " and ".join(f"{a['family-names']}, {a['given-names']}" for a in paper["authors"])
    assert paper["identifiers"][0]["value"] in fields["journal"] and fields["url"] == paper["url"]
