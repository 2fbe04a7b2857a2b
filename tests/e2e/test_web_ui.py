"""The web UI in Debian's headless chromium (Playwright): sign in with a token, see a cluster the CLI
created, create one from the editor after fixing a validation error, stop and start its fleet, read
a log stream holding hostile lines (shown as text), delete with the confirmation that names the
cluster, and a read-only token's UI that cannot change anything. Screenshots go to
``$CORRAL_UI_SCREENSHOTS`` (``docs/ui`` in the repository when refreshing them)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.api.server import CORRAL, Server, running_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script> & "quotes"'

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements.lock)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ui"), provider="fake") as srv:
        # every test sees it, whichever xdist worker runs it (each worker has its own server)
        cli(srv, "create-cluster", "-n", "from-cli", "-c", str(ROOT / "examples" / "demo.yaml"), "--wait")
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def shots() -> Path:
    out = Path(os.environ.get("CORRAL_UI_SCREENSHOTS", "/tmp/corral-ui-screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(CORRAL_STATE_DIR=str(server.state), CORRAL_PROVIDER="fake")
    return subprocess.run([*CORRAL, *args], capture_output=True, text=True, env=env, timeout=180, check=True)


def sign_in(page: object, server: Server, token: str) -> None:
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Clusters").wait_for()


def test_the_console_from_sign_in_to_delete(server: Server, browser: object) -> None:
    from corral.providers.fake import from_state_dir

    fake = from_state_dir(server.state)
    head = next(i for i in fake.instances("from-cli") if i.role.value == "HeadNode")
    fake.write_log("from-cli", head, "hostile", f"2026-12-04T10:00:00.000Z {HOSTILE}\nplain line\n")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.get_by_label("API token").fill("corral_wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Unauthorized").wait_for()
    sign_in(page, server, server.token)
    assert server.token not in page.content() and server.token not in page.url
    page.get_by_role("link", name="from-cli").wait_for()
    page.screenshot(path=str(shots() / "clusters.png"), full_page=True)

    # create from the editor: an error first, on its line, then fixed
    page.get_by_role("link", name="Create").click()
    page.get_by_label("Cluster name").fill("from-ui")
    editor = page.get_by_label("Cluster configuration (YAML, ParallelCluster 3 format)")
    good = (ROOT / "examples" / "demo.yaml").read_text()
    editor.fill(good.replace("InstanceType", "InstanceTyp", 1))
    finding = page.locator(".finding.error").first
    finding.wait_for()
    assert "InstanceTyp" in finding.inner_text() and "line" in finding.inner_text()
    page.screenshot(path=str(shots() / "editor-finding.png"), full_page=True)
    editor.fill(f"{good}# {HOSTILE}\n")  # a comment: the config view must show it as text
    page.get_by_text("Valid.").wait_for()
    page.get_by_role("button", name="Create cluster").click()
    page.get_by_role("heading", name="Cluster from-ui").wait_for()
    page.locator("#fleet").get_by_text("RUNNING").wait_for(timeout=60_000)
    # the config it runs, read-only, hostile text kept as text
    config = page.get_by_role("region", name="Configuration of from-ui (YAML)")
    config.get_by_text("ScaledownIdletime: 5").wait_for()
    assert HOSTILE in config.inner_text() and config.evaluate("e => e.tagName") == "PRE"
    assert page.locator("#cluster-config img, #cluster-config script").count() == 0
    page.screenshot(path=str(shots() / "cluster.png"), full_page=True)

    page.get_by_role("button", name="Stop fleet").click()
    page.locator("#fleet").get_by_text("STOPPED").wait_for(timeout=60_000)
    page.get_by_role("button", name="Start fleet").click()
    page.locator("#fleet").get_by_text("RUNNING").wait_for(timeout=60_000)

    # logs: hostile lines stay text
    page.goto(f"{server.url}/#/logs/from-cli")
    stream = page.locator(".streams a", has_text="hostile")
    stream.click()
    page.locator("#log-lines").get_by_text("plain line").wait_for()
    assert HOSTILE in page.locator("#log-lines").inner_text()
    assert page.locator("#log-lines img, #log-lines script").count() == 0
    assert page.evaluate("window.pwned") is None
    page.get_by_label("Filter").fill("plain")
    assert HOSTILE not in page.locator("#log-lines").inner_text()
    page.screenshot(path=str(shots() / "logs.png"), full_page=True)

    # delete: the confirmation names the cluster and needs it typed
    page.goto(f"{server.url}/#/cluster/from-ui")
    page.get_by_role("button", name="Delete from-ui…").click()
    confirm = page.get_by_role("button", name="Delete from-ui", exact=True)
    assert confirm.is_disabled()
    page.locator("#confirm-name").fill("from-u")
    assert confirm.is_disabled()
    page.locator("#confirm-name").fill("from-ui")
    page.screenshot(path=str(shots() / "delete-confirm.png"), full_page=True)
    confirm.click()
    page.get_by_role("heading", name="Clusters").wait_for()
    page.get_by_role("link", name="from-ui").wait_for(state="detached", timeout=60_000)
    assert errors == []
    page.close()


def test_update_shows_the_change_set_before_applying(server: Server, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server, server.token)
    page.goto(f"{server.url}/#/update/from-cli")
    editor = page.get_by_label("Cluster configuration (YAML, ParallelCluster 3 format)")
    page.get_by_text("No changes.", exact=True).wait_for()
    applied = editor.input_value()
    # a change set with one change of each verdict: live in Corral only, live in both, never
    editor.fill(
        applied.replace("ScaledownIdletime: 5", "ScaledownIdletime: 7")
        .replace("MaxCount: 4", "MaxCount: 6")
        .replace("  InstanceType: c5.xlarge\n  Networking", "  InstanceType: c5.2xlarge\n  Networking", 1)
    )
    head = page.locator("#changes tr", has_text="HeadNode.InstanceType")
    head.wait_for()
    assert cells(head)[3:6] == ["UNSUPPORTED", "never (new cluster)", "never (new cluster)"], cells(head)
    grow = cells(page.locator("#changes tr", has_text="MaxCount"))
    assert grow[1:6] == ["4", "6", "RESIZE_UPDATE_STRATEGY_ON_REMOVE", "live", "live"], grow
    page.locator("#changes .error", has_text="HeadNode.InstanceType").wait_for()  # pcluster's refusal
    page.screenshot(path=str(shots() / "update-change-set.png"), full_page=True)

    editor.fill(applied.replace("ScaledownIdletime: 5", "ScaledownIdletime: 7"))
    head.wait_for(state="detached")
    row = cells(page.locator("#changes tr", has_text="ScaledownIdletime"))
    # pcluster needs the fleet stopped for it; Corral applies it live
    assert row[1:6] == ["5", "7", "COMPUTE_FLEET_STOP", "needs a fleet stop", "live"], row
    assert "applied live by Corral" in row[6]
    page.get_by_role("button", name="Apply update").click()
    page.get_by_role("heading", name="Cluster from-cli").wait_for()
    page.get_by_text("UPDATE_COMPLETE").first.wait_for(timeout=60_000)
    page.close()


def cells(row: object) -> list[str]:
    return [cell.strip() for cell in row.inner_text().split("\t")]


def test_a_read_only_token_gives_a_read_only_console(server: Server, browser: object) -> None:
    page = browser.new_page()
    sign_in(page, server, server.reader)
    page.get_by_text("(read-only)").wait_for()
    page.goto(f"{server.url}/#/cluster/from-cli")
    page.get_by_role("heading", name="Cluster from-cli").wait_for()
    page.locator("#fleet").wait_for()
    assert page.get_by_role("button", name="Stop fleet").count() == 0
    assert page.get_by_role("button", name="Delete from-cli…").count() == 0
    page.close()


def test_the_page_loads_nothing_from_elsewhere_and_sends_a_strict_csp(
    server: Server, browser: object
) -> None:
    page = browser.new_page()
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    answer = page.goto(server.url + "/")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page.get_by_label("API token").wait_for()
    assert all(url.startswith(server.url) for url in seen), seen
    page.close()


def test_images_official_and_built_and_the_build_editor(server: Server, browser: object) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, server, server.token)
    page.get_by_role("link", name="Images").click()
    official = page.get_by_role("table", name="Official images")
    official.get_by_text("alinux2023", exact=True).wait_for()
    # built images: the list (or the server's own words on why there is none), never a blank
    built = page.locator("h2:has-text('Built images') ~ div").first
    built.locator("table, p").first.wait_for()  # (the screenshot with a built image: test_web_ui_images)
    page.get_by_role("link", name="Build an image").click()
    editor = page.get_by_label("Image configuration (YAML, ParallelCluster 3 build-image format)")
    page.get_by_label("Image id").fill("ui-img")
    editor.fill("Build:\n  InstanceTyp: c5.xlarge\n  ParentImage: ami-0123456789abcdef0\n")
    page.locator(".finding.error", has_text="InstanceTyp").first.wait_for()  # the unknown key, on its line
    page.locator(".finding.error", has_text="line 2").first.wait_for()
    page.close()


def test_a_cluster_page_shows_its_login_pools(server: Server, browser: object, tmp_path: Path) -> None:
    config = tmp_path / "logins.yaml"
    config.write_text(
        (ROOT / "examples" / "demo.yaml").read_text()
        + "LoginNodes:\n  Pools:\n    - Name: users\n      InstanceType: t3.medium\n      Count: 2\n"
        + "      Networking:\n        SubnetIds:\n          - subnet-0123456789abcdef0\n"
    )
    cli(server, "create-cluster", "-n", "ui-logins", "-c", str(config), "--wait")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server, server.token)
    page.goto(f"{server.url}/#/cluster/ui-logins")
    pool = page.locator("dd", has=page.locator(".badge", has_text="ACTIVE"))
    pool.wait_for()
    assert page.get_by_text("Login pool users").is_visible()
    assert "2 healthy, 0 unhealthy" in pool.inner_text() and "ssh to 10.99." in pool.inner_text()
    rows = page.get_by_role("table", name="Instances").locator("tbody tr", has_text="LoginNode")
    rows.nth(1).wait_for()
    assert rows.count() == 2 and "t3.medium" in rows.first.inner_text()
    assert errors == []
    page.close()
    cli(server, "delete-cluster", "-n", "ui-logins", "--wait")
