"""No anonymous access, read-only tokens, the audit log, and bad input as clear 4xx answers."""

from __future__ import annotations

import json

import pytest

from corral.api import ServeOptions, check_options
from corral.errors import BadRequestError

from .conftest import Api
from .test_api_clusters import DEMO


def test_no_token_wrong_token_and_revoked_token_are_401(api: Api) -> None:
    assert api.client.get("/v3/clusters").status_code == 401
    body = api.client.get("/v3/clusters").json()
    assert set(body) == {"message"} and "Bearer" in body["message"]
    wrong = api.client.get("/v3/clusters", headers={"Authorization": "Bearer corral_not-a-real-token"})
    assert wrong.status_code == 401
    basic = api.client.get("/v3/clusters", headers={"Authorization": f"Basic {api.admin}"})
    assert basic.status_code == 401
    assert api.client.get("/v3/clusters", headers=api.headers()).status_code == 200
    api.tokens.revoke("admin")
    assert api.client.get("/v3/clusters", headers=api.headers()).status_code == 401


def test_read_only_token_reads_but_cannot_write(api: Api) -> None:
    assert api.client.get("/v3/clusters", headers=api.headers(api.reader)).status_code == 200
    answer = api.client.post(
        "/v3/clusters",
        json={"clusterName": "demo", "clusterConfiguration": DEMO},
        headers=api.headers(api.reader),
    )
    assert answer.status_code == 403
    assert "read-only" in answer.json()["message"]
    assert api.client.get("/v3/clusters", headers=api.headers()).json()["clusters"] == []


def test_every_write_is_audited_with_who_and_result(api: Api) -> None:
    api.client.post(
        "/v3/clusters",
        json={"clusterName": "demo", "clusterConfiguration": DEMO},
        params={"dryrun": "true"},
        headers=api.headers(),
    )
    api.client.delete("/v3/clusters/nope", headers=api.headers(api.reader))
    api.client.delete("/v3/clusters/nope")
    api.client.get("/v3/clusters", headers=api.headers())  # reads are not audited
    lines = [json.loads(x) for x in (api.state / "api" / "audit.log").read_text().splitlines()]
    assert [(x["token"], x["method"], x["path"], x["status"]) for x in lines] == [
        ("admin", "POST", "/v3/clusters", 412),
        ("reader", "DELETE", "/v3/clusters/nope", 403),
        (None, "DELETE", "/v3/clusters/nope", 401),
    ]
    assert all(x["time"] and x["client"] for x in lines)


def test_tokens_are_stored_as_hashes_only(api: Api) -> None:
    text = (api.state / "api" / "tokens.json").read_text()
    assert api.admin not in text and api.reader not in text
    assert (api.state / "api" / "tokens.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "JSON"),
        (b'{"clusterName": 3, "clusterConfiguration": "x"}', "clusterName"),
        (b'{"clusterName": "demo"}', "clusterConfiguration"),
        (b'{"clusterName": "../../etc", "clusterConfiguration": "x"}', "clusterName"),
        (b"[]", "body"),
    ],
)
def test_malformed_bodies_are_400_with_the_field(api: Api, body: bytes, needle: str) -> None:
    answer = api.client.post(
        "/v3/clusters", content=body, headers={**api.headers(), "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert needle in answer.json()["message"]
    assert "Traceback" not in answer.text


def test_oversize_body_is_413(api: Api) -> None:
    big = json.dumps({"clusterName": "demo", "clusterConfiguration": "#" * (2 * 1024 * 1024)})
    answer = api.client.post(
        "/v3/clusters", content=big, headers={**api.headers(), "Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert "limit" in answer.json()["message"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 65536

    chunked = api.client.post("/v3/clusters", content=chunks(), headers=api.headers())
    assert chunked.status_code == 413


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/v3/clusters", {"clusterStatus": "NOPE"}, "clusterStatus"),
        ("/v3/clusters/demo/logstreams/x", {"limit": "many"}, "limit"),
        ("/v3/clusters/demo/logstreams/x", {"startFromHead": "maybe"}, "startFromHead"),
        ("/v3/clusters/demo/instances", {"nodeType": "Toaster"}, "nodeType"),
        ("/v3/clusters/1bad", {}, "clusterName"),
        ("/v3/clusters/bad_name", {}, "clusterName"),
        ("/v3/images/custom", {}, "imageStatus"),
    ],
)
def test_wrong_types_and_patterns_are_400(api: Api, path: str, params: dict[str, str], needle: str) -> None:
    answer = api.client.get(path, params=params, headers=api.headers())
    assert answer.status_code == 400, answer.text
    assert needle in answer.json()["message"]


def test_unknown_cluster_and_path_traversal_are_404(api: Api) -> None:
    unknown = api.client.get("/v3/clusters/nope", headers=api.headers())
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["message"]
    for path in (
        "/v3/clusters/nope/logstreams/..%2F..%2F..%2Fetc%2Fpasswd",
        "/v3/clusters/nope/logstreams/%2E%2E",
        "/v3/clusters/%2E%2E/describe",
    ):
        answer = api.client.get(path, headers=api.headers())
        assert answer.status_code in (400, 404), (path, answer.text)
        assert "root:" not in answer.text and set(answer.json()) == {"message"}


def test_log_stream_name_cannot_escape_the_cluster(api: Api) -> None:
    create = api.client.post(
        "/v3/clusters", json={"clusterName": "demo", "clusterConfiguration": DEMO}, headers=api.headers()
    )
    assert create.status_code == 202
    from .test_api_clusters import wait_status

    wait_status(api, "demo", "CREATE_COMPLETE")
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e%2fetc%2fpasswd", "%2Fetc%2Fpasswd", "a%00b"):
        answer = api.client.get(f"/v3/clusters/demo/logstreams/{name}", headers=api.headers())
        assert answer.status_code in (400, 404), (name, answer.text)
        assert "root:" not in answer.text
    api.client.delete("/v3/clusters/demo", headers=api.headers())


def test_unknown_route_and_method_use_the_error_shape(api: Api) -> None:
    assert api.client.get("/v3/nothing", headers=api.headers()).json()["message"].startswith("Not Found")
    answer = api.client.post("/v3/clusters/demo/stackevents", headers=api.headers())
    assert answer.status_code == 405 and "message" in answer.json()


def test_server_refuses_a_public_address_without_tls() -> None:
    check_options(ServeOptions(host="127.0.0.1"))
    check_options(ServeOptions(host="::1"))
    with pytest.raises(BadRequestError, match="without TLS"):
        check_options(ServeOptions(host="0.0.0.0"))
    check_options(ServeOptions(host="0.0.0.0", allow_insecure_remote=True))
    with pytest.raises(BadRequestError, match="both"):
        check_options(ServeOptions(host="0.0.0.0", certfile="/etc/hostname"))


def test_no_cors_headers_by_default(api: Api) -> None:
    answer = api.client.options(
        "/v3/clusters",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert "access-control-allow-origin" not in {k.lower() for k in answer.headers}


def test_an_unknown_query_parameter_is_refused_not_ignored(api: Api) -> None:
    answer = api.client.post(
        "/v3/clusters",
        params={"dryRun": "true"},
        json={"clusterName": "demo", "clusterConfiguration": DEMO},
        headers=api.headers(),
    )
    assert answer.status_code == 400
    assert "dryRun" in answer.json()["message"] and "dryrun" in answer.json()["message"]
    assert api.client.get("/v3/clusters", headers=api.headers()).json()["clusters"] == []
