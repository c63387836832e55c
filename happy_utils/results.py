"""Reading what the experiment harness wrote, as the files it wrote: a comparison's table and figures, the claims'
generated pages.

Why: notebook 06 evaluates runs that the command line made (`python -m happy_utils compare`, `claims`) and the
committed laptop results; reading their files keeps the lesson apart from the harness that measures (the method
package never imports `experiments`), and shows exactly what a reader of the repository sees.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Beside a comparison's `comparison.json` (`experiments.compare`): its table as the command line prints it.
COMPARISON_TEXT = "comparison.txt"


def markdown_section(path: Path, heading: str) -> str:
    """The section of a markdown file under the heading `heading` (any level, without the #s), down to the next
    heading of the same or a higher level."""
    text = Path(path).read_text()
    found = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, flags=re.M)
    if found is None:
        headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
        raise KeyError(f"{path} has no section {heading!r}; its headings: {', '.join(headings)}")
    level = len(found.group(1))
    end = re.search(rf"^#{{1,{level}}} ", text[found.end():], flags=re.M)
    return text[found.end():found.end() + end.start() if end else None].strip()


def markdown_figures(path: Path, heading: str) -> list[Path]:
    """The images that a section of a markdown file shows, in its order, as paths (resolved beside the file)."""
    section = markdown_section(path, heading)
    return [Path(path).parent / link for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", section)]
