"""The jobs page on a real local cluster (real Slurm on the head node): a running and a pending job
shown with their state and Slurm's reason, per-user and per-queue counts, and a job cancelled from
the browser (Debian's chromium, Playwright)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import httpx
import pytest

from corral.providers.local import LocalProvider
from unit.api.server import running_server

from .conftest import leftovers, unique_name, wait_until
from .test_api_e2e import CONFIG
from .test_web_ui import ARGS, CHROMIUM, shots, sync_api

pytestmark = pytest.mark.e2e


def test_jobs_listed_and_cancelled_from_the_browser(prerequisites: None, tmp_path: Path) -> None:
    name = unique_name("ap")
    state = tmp_path / "state"
    with running_server(state, provider="local") as server:
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=120
        )
        try:
            made = api.post("/v3/clusters", json={"clusterName": name, "clusterConfiguration": CONFIG})
            assert made.status_code == 202, made.text
            wait_until(
                lambda: api.get(f"/v3/clusters/{name}").json()["clusterStatus"] != "CREATE_IN_PROGRESS",
                600,
                "the create",
                1,
            )
            job = ["sbatch", "-p", "q1", "-J", "<b>hostile-job</b>", "--wrap", "sleep 600"]
            argv = LocalProvider(state).head_shell_argv(name, ["--", shlex.join(job)])  # one remote string
            for _ in range(2):  # one runs on the static node, the other waits for it or a dynamic one
                subprocess.run(argv, check=True, capture_output=True, timeout=60)
            wait_until(
                lambda: len(api.get(f"/corral/v1/clusters/{name}/jobs").json()["jobs"]) == 2, 120, "jobs"
            )
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(server.url + "/")
                page.get_by_label("API token").fill(server.token)
                page.get_by_role("button", name="Sign in").click()
                page.goto(f"{server.url}/#/jobs/{name}")
                page.get_by_text("Per queue: q1: 2").wait_for(timeout=30_000)
                assert page.locator("td b").count() == 0
                assert page.get_by_text("<b>hostile-job</b>").count() == 2
                page.screenshot(path=str(shots() / "jobs.png"), full_page=True)
                first = page.get_by_role("button", name="Cancel ").first
                job = first.inner_text().split()[-1]
                first.click()
                wait_until(
                    lambda: all(
                        str(j["jobId"]) != job or j["state"] in ("CANCELLED", "COMPLETING")
                        for j in api.get(f"/corral/v1/clusters/{name}/jobs").json()["jobs"]
                    ),
                    60,
                    "the job to be cancelled",
                    1,
                )
                browser.close()
        finally:
            api.delete(f"/v3/clusters/{name}")
            wait_until(lambda: api.get(f"/v3/clusters/{name}").status_code == 404, 600, "the delete", 1)
    assert leftovers(LocalProvider(state), name) == []
