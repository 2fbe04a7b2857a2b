"""Accessibility audit of every page of the web UI: axe-core (WCAG 2.1 A and AA, and axe's best
practices) in Debian's chromium on each page in the states a user sees (signed out, a sign-in error,
lists, a cluster with its config, the delete confirmation, the editor with a finding, an update's
change set, a log stream, jobs, images, a build, read-only); any violation fails the test. And the
console is keyboard-usable: a skip link first, then every control reachable with Tab."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.a11y import inject, violations
from unit.api.server import Server, running_server

from .test_web_ui import ARGS, CHROMIUM, ROOT, cli, sign_in, sync_api

DEMO = (ROOT / "examples" / "demo.yaml").read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("a11y"), provider="fake") as srv:
        cli(srv, "create-cluster", "-n", "ui-a11y", "-c", str(ROOT / "examples" / "demo.yaml"), "--wait")
        from corral.providers.fake import from_state_dir

        fake = from_state_dir(srv.state)
        head = next(i for i in fake.instances("ui-a11y") if i.role.value == "HeadNode")
        fake.write_log("ui-a11y", head, "slurmctld", "2026-12-04T10:00:00.000Z slurmctld started\n")
        yield srv
        cli(srv, "delete-cluster", "-n", "ui-a11y", "--wait")


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        inject(ctx)
        yield ctx
        browser.close()


def audited(page: Any, where: str, found: dict[str, list[str]]) -> None:
    page.wait_for_load_state("networkidle")
    bad = violations(page)
    if bad:
        found[where] = bad


def test_every_page_passes_axe(server: Server, context: Any) -> None:
    page = context.new_page()
    found: dict[str, list[str]] = {}
    page.goto(server.url + "/")
    page.get_by_label("API token").wait_for()
    audited(page, "sign in", found)
    page.get_by_label("API token").fill("corral_wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Unauthorized").wait_for()
    audited(page, "sign-in error", found)
    sign_in(page, server, server.token)
    page.get_by_role("link", name="ui-a11y").wait_for()
    audited(page, "clusters", found)

    page.goto(f"{server.url}/#/cluster/ui-a11y")
    page.locator("#cluster-config").wait_for()
    page.locator("#fleet").wait_for()
    audited(page, "cluster", found)
    page.get_by_role("button", name="Delete ui-a11y…").click()
    audited(page, "delete confirmation", found)

    page.goto(f"{server.url}/#/create")
    page.get_by_label("Cluster name").fill("ui-a11y-new")
    page.get_by_label("Cluster configuration (YAML, ParallelCluster 3 format)").fill(
        DEMO.replace("InstanceType", "InstanceTyp", 1)
    )
    page.locator(".finding.error").first.wait_for()
    audited(page, "create with a finding", found)

    page.goto(f"{server.url}/#/update/ui-a11y")
    editor = page.get_by_label("Cluster configuration (YAML, ParallelCluster 3 format)")
    page.get_by_text("No changes.", exact=True).wait_for()
    editor.fill(editor.input_value().replace("ScaledownIdletime: 5", "ScaledownIdletime: 7"))
    page.locator("#changes .badge").first.wait_for()
    audited(page, "update change set", found)

    page.goto(f"{server.url}/#/logs/ui-a11y")
    page.locator(".streams a", has_text="slurmctld").click()
    page.locator("#log-lines").get_by_text("slurmctld started").wait_for()
    audited(page, "log stream", found)
    page.goto(f"{server.url}/#/jobs/ui-a11y")
    page.get_by_role("heading", name="Jobs of ui-a11y").wait_for()
    audited(page, "jobs", found)

    page.goto(f"{server.url}/#/images")
    page.get_by_role("table", name="Official images").wait_for()
    audited(page, "images", found)
    page.goto(f"{server.url}/#/images/build")
    page.locator("#findings .headline").wait_for()
    audited(page, "build an image", found)
    page.goto(f"{server.url}/#/image/ui-a11y-img")
    page.get_by_role("heading", name="Image ui-a11y-img").wait_for()
    audited(page, "image", found)
    page.close()

    reader = context.new_page()
    sign_in(reader, server, server.reader)
    reader.get_by_text("(read-only)").wait_for()
    reader.get_by_role("link", name="ui-a11y").wait_for()
    audited(reader, "clusters, read-only", found)
    reader.close()
    assert found == {}, "\n".join(f"{where}: {v}" for where, rules in found.items() for v in rules)


def test_the_audit_finds_a_violation_when_there_is_one(server: Server, context: Any) -> None:
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_label("API token").wait_for()
    page.evaluate("document.getElementById('signin-form').append(document.createElement('input'))")
    assert any(v.startswith("label ") for v in violations(page)), violations(page)
    page.close()


def test_keyboard_skip_link_then_every_control_by_tab(server: Server, context: Any) -> None:
    page = context.new_page()
    sign_in(page, server, server.token)
    page.goto(f"{server.url}/#/cluster/ui-a11y")
    page.reload()  # a fresh load (the token stays in the tab): Tab starts at the top
    page.get_by_role("button", name="Stop fleet").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).left") != "-10000px"  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent.trim()"))
        if seen[-1] == "Delete ui-a11y…":
            break
    assert "Stop fleet" in seen and seen[-1] == "Delete ui-a11y…", seen
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused control shows no focus ring"
    page.close()
