"""Accounting in the web UI against a real local cluster with a Database (the MariaDB stand-in,
slurmdbd on the head, as tests/e2e/test_accounting.py makes it): jobs that ended are shown from
sacct with user, account, elapsed, exit code and allocated TRES, the same values Slurm's own
``sacct`` prints for them; and the populated jobs page passes the accessibility audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.a11y import inject, violations
from unit.api.server import running_server

from .conftest import unique_name, wait_until
from .test_accounting import Cli, finished_record, submit, teardown
from .test_web_ui import ARGS, CHROMIUM, shots, sync_api

pytestmark = pytest.mark.e2e


@pytest.fixture
def cli(prerequisites: None, tmp_path: Path) -> Iterator[Cli]:
    state = tmp_path / "state"
    yield Cli(state, tmp_path)
    teardown(state)


def tres(text: str) -> dict[str, float]:
    """``cpu=1,mem=3840M,node=1`` as numbers, memory in MiB (sacct may print ``4G``)."""
    out = {}
    for pair in filter(None, text.split(",")):
        key, _, value = pair.partition("=")
        scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}.get(value[-1:])
        out[key] = float(value[:-1]) * scale if scale else float(value)
    return out


def test_finished_jobs_from_sacct_in_the_browser(cli: Cli) -> None:
    name = unique_name("uiacc")
    assert cli.create(name)["clusterStatus"] == "CREATE_COMPLETE"
    failed = submit(cli, name, "echo accounted; exit 3")
    done = submit(cli, name, "sleep 1")
    records = {job: finished_record(cli, name, job) for job in (failed, done)}  # Slurm's own sacct
    with running_server(cli.state, provider="local") as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        inject(context)
        page = context.new_page()
        page.goto(server.url + "/")
        page.get_by_label("API token").fill(server.token)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{server.url}/#/jobs/{name}")
        table = page.get_by_role("table", name="Finished jobs (sacct)")
        table.wait_for(timeout=60_000)
        headers = [h.strip() for h in table.locator("th").all_inner_texts()]

        def rows() -> dict[str, dict[str, str]]:
            out = {}
            for tr in table.locator("tbody tr").all():
                cells = dict(
                    zip(headers, (c.strip() for c in tr.locator("td").all_inner_texts()), strict=True)
                )
                out[cells["Job"]] = cells
            return out

        wait_until(lambda: set(records) <= set(rows()), 60, "both jobs in the sacct table", 0.5)
        for job, record in records.items():
            shown = rows()[job]
            assert (shown["User"], shown["Account"], shown["Queue"], shown["Nodes"]) == (
                record["User"],
                record["Account"],
                record["Partition"],
                record["NodeList"],
            ), (shown, record)
            assert (shown["State"], shown["Exit code"], shown["Elapsed"]) == (
                record["State"],
                record["ExitCode"],
                record["Elapsed"],
            ), (shown, record)
            wanted = {k: v for k, v in tres(record["AllocTRES"]).items() if k != "billing"}
            assert tres(shown["TRES"]).items() >= wanted.items(), (shown, record)
        assert records[failed]["ExitCode"] == "3:0" and records[failed]["State"] == "FAILED"
        page.screenshot(path=str(shots() / "accounting.png"), full_page=True)
        assert violations(page) == []
        browser.close()
