"""The overview's groups: each group of the schedule file with its last batch."""

from __future__ import annotations

import re


def group_rows(html: str) -> dict[str, str]:
    section = html[html.index('<section class="card groups"') :]
    section = section[: section.index("</section>")]
    return {m[1]: m[2] for m in re.finditer(r'<tr data-group="([^"]+)">(.*?)</tr>', section, re.S)}


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_overview_shows_each_groups_last_batch(http, demo):
    page = http.get("/")
    assert page.status_code == 200
    rows = group_rows(page.text)
    assert list(rows) == ["sources", "billing", "maintenance"]
    groups = {g.name: g for g in demo.hv.schedule_overview(demo.now).groups}
    for name, row in rows.items():
        batch = groups[name].last_batch
        if batch is None:
            assert "never ran" in text(row)
            continue
        assert f"status-{batch.outcome}" in row
        cells = text(row).split()
        assert cells[:2] == [name, str(groups[name].entries)]
        assert f"{batch.succeeded} {batch.failed} {batch.unfinished}" in text(row)
    assert any(g.last_batch is not None for g in groups.values())


def test_the_groups_are_outside_the_live_fragment(http):
    assert 'class="card groups"' not in http.get("/fragments/overview").text
