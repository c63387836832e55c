"""Reading what the harness wrote, as notebook 06 does: sections and figures of a generated markdown page."""

import pytest

from happy_utils.results import markdown_figures, markdown_section

PAGE = """# Title

## Verdicts

The first claim holds.

### A detail

Part of the verdicts.

## Tables

| a |
|---|

## Figures

![one](figures/one.png)

![two](figures/two.png)
"""


def test_a_section_runs_to_the_next_heading_of_its_level_and_keeps_its_subsections(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(PAGE)
    assert markdown_section(page, "Verdicts") == "The first claim holds.\n\n### A detail\n\nPart of the verdicts."
    assert markdown_section(page, "A detail") == "Part of the verdicts."
    assert markdown_section(page, "Tables") == "| a |\n|---|"


def test_figures_are_found_in_their_order_beside_the_page(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(PAGE)
    assert markdown_figures(page, "Figures") == [tmp_path / "figures" / "one.png", tmp_path / "figures" / "two.png"]


def test_a_missing_section_names_the_page_and_its_headings(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(PAGE)
    with pytest.raises(KeyError, match="README.md has no section 'Results'; its headings: Title, Verdicts, A detail"):
        markdown_section(page, "Results")


def test_the_committed_claims_page_has_what_notebook_06_reads():
    from happy_utils.config import repo_root

    page = repo_root() / "results" / "laptop" / "README.md"
    for heading in ("Verdicts", "Tables", "Image quality: FID and KID", "The comparison: scores",
                    "Valid queries and the t = 0 control"):
        assert markdown_section(page, heading)
    assert [p.name for p in markdown_figures(page, "Figures")][0] == "claims_topk.png"
    assert all(p.exists() for p in markdown_figures(page, "Figures"))
