"""Commands on the head node through SSM Run Command (``AWS-RunShellScript``), output captured."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Sequence

from corral.errors import ProviderError
from corral.providers.aws._clients import AwsClients
from corral.providers.aws._errors import BOTO_ERRORS, aws_call, error_code, translate
from corral.providers.base import CommandResult

#: Final statuses -> exit code (None: the command's own ResponseCode).
DONE: dict[str, int | None] = {"Success": None, "Failed": None, "Cancelled": 130, "TimedOut": 124}


def shell_line(argv: Sequence[str], *, user: str | None, stdin: str | None) -> str:
    """The one shell line SSM runs: ``argv`` quoted, as ``user`` (sudo -u), fed ``stdin``. Pure."""
    line = shlex.join(list(argv))
    if user:
        line = f"sudo -u {shlex.quote(user)} -i -- {line}"
    if stdin is not None:
        line = f"printf %s {shlex.quote(stdin)} | {line}"
    return line


def run_here(
    argv: Sequence[str], *, user: str | None, stdin: str | None, timeout: float | None
) -> CommandResult:
    """Run ``argv`` on this machine (the head node running its own daemons), output captured."""
    command = ["sudo", "-u", user, "-i", "--", *argv] if user else list(argv)
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProviderError(f"`{' '.join(argv)}` failed on the head node: {exc}") from exc
    return CommandResult(done.returncode, done.stdout, done.stderr)


def run_command(
    clients: AwsClients,
    instance_id: str,
    argv: Sequence[str],
    *,
    user: str | None,
    stdin: str | None,
    timeout: float | None,
) -> CommandResult:
    """SendCommand, then poll GetCommandInvocation until it finishes or ``timeout`` passes."""
    sent = aws_call(
        "SendCommand",
        clients.ssm.send_command,
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": [shell_line(argv, user=user, stdin=stdin)]},
    )
    command_id = sent["Command"]["CommandId"]
    deadline = time.monotonic() + (timeout or 3600.0)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        try:
            got = clients.ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except BOTO_ERRORS as exc:
            if error_code(exc) == "InvocationDoesNotExist":  # not registered yet right after SendCommand
                continue
            raise translate(exc, "GetCommandInvocation") from exc
        status = got["Status"]
        if status in DONE:
            fixed = DONE[status]
            code = int(got.get("ResponseCode", 1)) if fixed is None else fixed
            out, err = got.get("StandardOutputContent", ""), got.get("StandardErrorContent", "")
            return CommandResult(code, out, err)
    raise ProviderError(
        f"`{' '.join(argv)}` did not finish on {instance_id} within {timeout} s",
        hint="check the SSM agent on the head node (`aws ssm describe-instance-information`)",
    )


__all__ = ["run_command", "run_here", "shell_line"]
