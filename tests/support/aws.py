"""A real AWS emulator on loopback for the aws provider's tests: moto in server mode, behind a small
HTTP proxy that can answer some requests the way AWS does when it is out of capacity or throttling.

moto never runs out of capacity and never throttles, so the proxy stands in for those AWS
behaviours on the wire: the provider's botocore clients talk HTTP to the proxy (``AWS_ENDPOINT_URL``),
which forwards every request to moto unchanged unless a fault is armed for that API action. Faults:

- ``capacity(limit, code)``: CreateFleet launches at most ``limit`` instances (the request's target is
  lowered before moto sees it) and the response carries EC2's ``errorSet`` entry with ``code``, as
  an instant fleet does when EC2 has too little capacity;
- ``error(action, status, code, times)``: the next ``times`` calls of ``action`` get AWS's error
  document (``Throttling``, ``AccessDenied``, ...) instead of reaching moto.

Every request's action is recorded (``proxy.calls``) so tests can check what went over the wire.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "4",
    "CORRAL_AWS_POLL_S": "0.1",
}

_QUERY_ERROR = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>corral-proxy</RequestId></ErrorResponse>"
)
_EC2_ERROR = (
    "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
    "<RequestID>corral-proxy</RequestID></Response>"
)
_FLEET_ERROR = (
    "<errorSet><item><lifecycle>on-demand</lifecycle><errorCode>{code}</errorCode>"
    "<errorMessage>{message}</errorMessage></item></errorSet>"
)
_EMPTY_FLEET = (
    '<CreateFleetResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>corral-proxy</requestId>'
    "<fleetId>fleet-00000000-0000-0000-0000-000000000000</fleetId><fleetInstanceSet/></CreateFleetResponse>"
)


@dataclass
class Faults:
    """What the proxy does instead of forwarding (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    fleet_limit: int | None = None
    fleet_code: str = "InsufficientInstanceCapacity"
    errors: dict[str, list[Any]] = field(default_factory=dict)  # action -> [status, code, times left]
    calls: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)


class AwsProxy:
    """Handle on the running proxy: arm faults, read the recorded calls."""

    def __init__(self, url: str, faults: Faults) -> None:
        self.url = url
        self._faults = faults

    def capacity(self, limit: int | None, code: str = "InsufficientInstanceCapacity") -> None:
        with self._faults.lock:
            self._faults.fleet_limit, self._faults.fleet_code = limit, code

    def error(self, action: str, status: int, code: str, times: int = 1) -> None:
        with self._faults.lock:
            self._faults.errors[action] = [status, code, times]

    def calls(self, action: str) -> list[dict[str, list[str]]]:
        with self._faults.lock:
            return [params for name, params in self._faults.calls if name == action]


def _action(headers: Any, body: bytes) -> tuple[str, dict[str, list[str]]]:
    target = headers.get("X-Amz-Target")
    if target:  # JSON protocols (DynamoDB, SSM): "DynamoDB_20120810.PutItem"
        return target.rsplit(".", 1)[-1], {}
    params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    return (params.get("Action", [""])[0], params)


def _make_handler(upstream: tuple[str, int], faults: Faults) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(*upstream, timeout=60)
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")
            }
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            return resp.status, resp.getheaders(), data

        def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            action, params = _action(self.headers, body)
            with faults.lock:
                faults.calls.append((action, params))
                armed = faults.errors.get(action)
                if armed is not None and armed[2] > 0:
                    armed[2] -= 1
                    status, code = armed[0], armed[1]
                else:
                    status, code = 0, ""
                limit, fleet_code = faults.fleet_limit, faults.fleet_code
            if status:
                template = _EC2_ERROR if "Version=2016-11-15" in body.decode() else _QUERY_ERROR
                data = template.format(code=code, message=f"{code} (injected by the test proxy)").encode()
                self._send(status, [("Content-Type", "text/xml")], data)
                return
            if action == "CreateFleet" and limit is not None:
                self._send(*self._limited_fleet(body, params, limit, fleet_code))
                return
            self._send(*self._forward(body))

        def _limited_fleet(
            self, body: bytes, params: dict[str, list[str]], limit: int, code: str
        ) -> tuple[int, list[tuple[str, str]], bytes]:
            wanted = int(params.get("TargetCapacitySpecification.TotalTargetCapacity", ["0"])[0])
            minimum = max(
                int(params.get("OnDemandOptions.MinTargetCapacity", ["0"])[0]),
                int(params.get("SpotOptions.MinTargetCapacity", ["0"])[0]),
            )
            message = f"We currently do not have sufficient capacity for {wanted} instance(s) (test proxy)."
            error = _FLEET_ERROR.format(code=code, message=message)
            if limit == 0 or minimum > limit:  # EC2 launches nothing when the minimum cannot be met
                empty = _EMPTY_FLEET.replace("<fleetInstanceSet/>", error + "<fleetInstanceSet/>")
                return 200, [("Content-Type", "text/xml")], empty.encode()
            if wanted <= limit:
                return self._forward(body)
            lowered = re.sub(
                rb"TargetCapacitySpecification.TotalTargetCapacity=\d+",
                b"TargetCapacitySpecification.TotalTargetCapacity=" + str(limit).encode(),
                body,
            )
            status, headers, reply = self._forward(lowered)
            return status, headers, reply.replace(b"</fleetId>", b"</fleetId>" + error.encode(), 1)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    return Handler


@contextmanager
def aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsProxy]:
    """moto on 127.0.0.1 behind the fault proxy; ``AWS_ENDPOINT_URL`` and test credentials are set
    through ``monkeypatch``. Yields the proxy handle."""
    from moto import server as moto_server

    moto = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    faults = Faults()
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(moto.get_host_and_port(), faults))
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        for key, value in {"AWS_ENDPOINT_URL": url, **AWS_TEST_ENV}.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "CORRAL_S3_ENDPOINT_URL"):
            monkeypatch.delenv(key, raising=False)
        yield AwsProxy(url, faults)
    finally:
        proxy.shutdown()
        proxy.server_close()
        moto.stop()


@dataclass(frozen=True)
class Network:
    """A VPC made in moto for a test: two subnets in two zones, a security group, key pairs."""

    vpc: str
    public_subnet: str
    private_subnet: str
    security_group: str
    key_name: str = "mykey"


def make_network(ec2: Any) -> Network:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-east-1a")
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")
    group = ec2.create_security_group(GroupName="corral-test", Description="test", VpcId=vpc)["GroupId"]
    if not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["mykey"]}])["KeyPairs"]:
        ec2.create_key_pair(KeyName="mykey", KeyType="ed25519")  # one per moto server, shared by modules
    return Network(vpc, public["Subnet"]["SubnetId"], private["Subnet"]["SubnetId"], group)


def rewrite_ids(text: str, net: Network) -> str:
    """A corpus config with its subnet and security group ids replaced by moto's: the head node's
    subnet becomes the public one, every other subnet the private one."""
    head = re.search(r"SubnetId:\s*(subnet-[0-9a-z]+)", text)
    head_id = head.group(1) if head else ""

    def subnet(match: re.Match[str]) -> str:
        return net.public_subnet if match.group(0) == head_id else net.private_subnet

    text = re.sub(r"subnet-[0-9a-z]{8,17}\b", subnet, text)
    return re.sub(r"sg-[0-9a-z]{8,17}\b", net.security_group, text)
