"""The docs as a site: mkdocs.yml's nav and docs/ agree, and the links of the guide pages
(index, tutorial, concepts, deployment) reach existing files and headings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
GUIDES = ["index.md", "tutorial.md", "concepts.md", "deployment.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def nav_files(nav: list) -> list[str]:
    found: list[str] = []
    for item in nav:
        for value in item.values():
            found.extend(nav_files(value) if isinstance(value, list) else [value])
    return found


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_nav_names_every_page_and_only_existing_ones():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert config["docs_dir"] == "docs"
    listed = nav_files(config["nav"])
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in DOCS.glob("*.md"))


@pytest.mark.parametrize("page", GUIDES)
def test_links_reach_files_and_headings(page):
    source = DOCS / page
    text = re.sub(r"```.*?```", "", source.read_text(), flags=re.S)
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve() if path else source
        assert resolved.exists(), f"{page}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page}: no heading #{anchor} in {resolved.name}"
