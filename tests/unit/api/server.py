"""A real ``corral api serve`` process on a free loopback port, for the CLI-as-client tests, the
end-to-end tests and the benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CORRAL = [sys.executable, "-m", "corral.cli.main"]


@dataclass
class Server:
    url: str
    token: str
    reader: str
    state: Path
    process: subprocess.Popen[bytes]

    def env(self, token: str | None = None) -> dict[str, str]:
        """The environment of a CLI talking to this server (no local state at all)."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
        return {
            **clean,
            "CORRAL_API_URL": self.url,
            "CORRAL_API_TOKEN": token or self.token,
            "CORRAL_STATE_DIR": str(self.state / "client-has-no-state"),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(state: Path, name: str, *extra: str) -> str:
    env = {**os.environ, "CORRAL_STATE_DIR": str(state)}
    out = subprocess.run(
        [*CORRAL, "api", "token", "create", "--name", name, *extra],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout.strip()


def _start(state: Path, env: dict[str, str], timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free port; another process may take the port between the probe and
    the bind, so a server that exits before answering is retried on a new port."""
    for _attempt in range(5):
        port = free_port()
        with open(state / "server.log", "wb") as log:
            proc = subprocess.Popen(
                [*CORRAL, "api", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v3/openapi.json", timeout=2).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if "address already in use" not in (state / "server.log").read_text():
            break
    raise RuntimeError((state / "server.log").read_text())


@contextmanager
def running_server(state: Path, provider: str = "fake", timeout: float = 60) -> Iterator[Server]:
    state.mkdir(parents=True, exist_ok=True)
    admin, reader = token(state, "admin"), token(state, "reader", "--read-only")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_FAKE_")}
    env.update({"CORRAL_STATE_DIR": str(state), "CORRAL_PROVIDER": provider})
    proc, url = _start(state, env, timeout)
    try:
        yield Server(url, admin, reader, state, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
