"""Images in the web UI against the local provider (a real build, #20): build from an image config
in the editor (an error fixed first), follow the build to BUILD_COMPLETE on the image's page, read
its build log (a component's hostile output shown as text) and stack events, find it among the
AVAILABLE images, and delete it with the confirmation that names it; nothing of it is left."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

from support.a11y import inject, violations
from support.servers import s3_server
from unit.api.server import running_server

from .conftest import wait_until
from .test_build_image import image_leftovers
from .test_web_ui import ARGS, CHROMIUM, HOSTILE, shots, sync_api

pytestmark = pytest.mark.e2e

BUCKET = "ui-components"
#: a component whose build step prints a hostile line (quotes and markup: a literal block, a heredoc)
HELLO = f"""\
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Hello
        action: ExecuteBash
        inputs:
          commands:
            - |
              cat <<'END'
              {HOSTILE}
              END
"""


def test_build_follow_read_logs_and_delete_an_image(prerequisites: None, tmp_path: Path) -> None:
    from corral.providers.local import images

    official = images.ensure_official()
    image_id = f"ui-img-{secrets.token_hex(3)}"
    state = tmp_path / "state"
    config = (
        f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {official.ami_id}\n  Components:\n"
        f"    - Type: script\n      Value: s3://{BUCKET}/hello.yaml\n"
    )
    with pytest.MonkeyPatch.context() as patch, s3_server(patch, BUCKET) as s3:
        s3.put_object(Bucket=BUCKET, Key="hello.yaml", Body=HELLO.encode())
        with running_server(state, provider="local") as server, sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            inject(context)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            try:
                page.goto(server.url + "/")
                page.get_by_label("API token").fill(server.token)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("link", name="Images").click()
                page.get_by_role("link", name="Build an image").click()
                page.get_by_label("Image id").fill(image_id)
                editor = page.get_by_label("Image configuration (YAML, ParallelCluster 3 build-image format)")
                editor.fill(config.replace("InstanceType", "InstanceTyp"))
                page.locator(".finding.error", has_text="InstanceTyp").first.wait_for()
                editor.fill(config)
                page.get_by_text("Valid.").wait_for()
                page.get_by_role("button", name="Build image").click()

                page.get_by_role("heading", name=f"Image {image_id}").wait_for(
                    timeout=180_000
                )  # the request checks components
                final = page.locator("dd .badge", has_text=re.compile(r"^BUILD_(COMPLETE|FAILED)$"))
                final.wait_for(timeout=300_000)
                status = final.inner_text()
                reason = page.locator("dt:has-text('Stack reason') + dd").all_inner_texts()
                assert page.get_by_text(official.ami_id).count() == 0  # its own image id, not the parent's
                page.reload()  # the log streams as the finished build left them
                streams = page.locator(".streams a")
                streams.first.wait_for()
                names = streams.all_inner_texts()
                build = next((s for s in streams.all() if "build" in s.inner_text()), streams.first)
                build.click()
                lines = page.locator("#log-lines")
                wait_until(
                    lambda: HOSTILE in lines.inner_text(), 60, f"the component's output in {names}", 0.5
                )
                assert page.locator("#log-lines img, #log-lines script").count() == 0
                assert page.evaluate("window.pwned") is None
                page.get_by_role("table", name="Stack events").wait_for()
                page.screenshot(path=str(shots() / "image.png"), full_page=True)
                assert violations(page) == []

                page.get_by_role("link", name="Images").click()
                if status == "BUILD_FAILED":  # AVAILABLE is the default filter
                    page.get_by_label("Build status").select_option("FAILED")
                page.get_by_role("link", name=image_id).wait_for(timeout=30_000)
                page.get_by_role("table", name="Official images").wait_for()
                page.screenshot(path=str(shots() / "images.png"), full_page=True)
                page.goto(f"{server.url}/#/image/{image_id}")
                page.get_by_role("button", name=f"Delete {image_id}…").click()
                confirm = page.get_by_role("button", name=f"Delete {image_id}", exact=True)
                assert confirm.is_disabled()
                page.locator("#confirm-name").fill(image_id)
                confirm.click()
                page.get_by_role("heading", name="Images", exact=True).wait_for()
                wait_until(lambda: image_leftovers(image_id, state) == [], 120, "the image to be gone", 0.5)
                page.get_by_role("link", name=image_id).wait_for(state="detached", timeout=30_000)
                assert errors == []
            finally:
                browser.close()
    assert image_leftovers(image_id, state) == []
    assert status == "BUILD_COMPLETE", reason
