"""The UI's files: every module and style sheet in ``corral/web/static`` is served under ``/ui/``
(a module the page imports but the server does not serve would break the whole UI), with the
strict security headers, without a token; nothing else is."""

from __future__ import annotations

import re
from importlib import resources

from corral.web import PAGES

from .conftest import Api


def test_every_static_file_is_served_and_nothing_else(api: Api) -> None:
    static = resources.files("corral.web").joinpath("static")
    files = {p.name for p in static.iterdir() if p.name != "index.html"}
    assert files == set(PAGES)
    for name in sorted(files):
        answer = api.client.get(f"/ui/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(PAGES[name])
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        for imported in re.findall(r'from "\./([a-z]+\.js)"', answer.text):
            assert imported in PAGES, f"{name} imports {imported}, which is not served"
    assert api.client.get("/ui/__init__.py").status_code == 404
    assert api.client.get("/ui/..%2F__init__.py").status_code == 404
    assert api.client.get("/ui/missing.js").status_code == 404
