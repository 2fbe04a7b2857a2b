"""botocore errors become Corral errors here, at the provider boundary, each with a hint.

Nothing outside ``corral.providers.aws`` sees a botocore exception. Throttling is retried by
botocore itself (``standard`` retry mode, exponential backoff with jitter, see ``_clients``); an
error that reaches ``translate`` has exhausted those retries. ``aws_call`` is the one wrapper every
call of this package goes through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from corral.errors import (
    ConflictError,
    CorralError,
    LimitExceededError,
    NotFoundError,
    PrerequisiteError,
    ProviderError,
)

T = TypeVar("T")

#: Every exception botocore raises for a failed call (a garbled reply is a ``ResponseParserError``,
#: which is not a ``BotoCoreError``).
BOTO_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError, ResponseParserError)

CREDENTIALS_HINT = (
    "give credentials the usual way: AWS_PROFILE=<profile> (see `aws configure list-profiles`), "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role; to test against a local moto "
    "server set AWS_ENDPOINT_URL=http://127.0.0.1:<port> and any test credentials"
)

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthFailure",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
    }
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
LIMIT_CODES = frozenset(
    {
        "LimitExceeded",
        "LimitExceededException",
        "VcpuLimitExceeded",
        "InstanceLimitExceeded",
        "MaxSpotInstanceCountExceeded",
        "ServiceQuotaExceededException",
        "TooManyBuckets",
    }
)
#: EC2 capacity errors: the reconciler and the Resume program report them, never retry them here.
CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientHostCapacity",
        "InsufficientReservedInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientCapacityOnHost",
        "SpotMaxPriceTooLow",
        "UnfulfillableCapacity",
        "MaxSpotInstanceCountExceeded",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "NoSuchBucket",
        "NoSuchKey",
        "ResourceNotFoundException",
        "InvalidInstanceID.NotFound",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateName.NotFoundException",
    }
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, action: str) -> CorralError:
    """The ``CorralError`` for a botocore exception raised while doing ``action`` (``"CreateStack"``)."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return PrerequisiteError(f"{action}: no AWS credentials were found", hint=CREDENTIALS_HINT)
    if isinstance(exc, ProfileNotFound):
        return PrerequisiteError(
            f"{action}: {exc}",
            hint="set AWS_PROFILE to a profile `aws configure list-profiles` shows, or unset it",
        )
    if isinstance(exc, NoRegionError):
        return PrerequisiteError(
            f"{action}: no AWS region is set",
            hint="set Region in the cluster config, or AWS_REGION / AWS_DEFAULT_REGION",
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return ProviderError(
            f"{action}: cannot reach the AWS endpoint: {exc}",
            hint="check the network, or AWS_ENDPOINT_URL when it points at a local moto server",
        )
    if isinstance(exc, ClientError):
        return _client_error(exc, action)
    if isinstance(exc, ResponseParserError):
        first = str(exc).splitlines()[0] if str(exc) else "unreadable reply"
        return ProviderError(
            f"{action}: the endpoint sent a reply that is not AWS's ({first})",
            hint="the endpoint failed internally; retry, and check AWS_ENDPOINT_URL when it is an emulator",
        )
    if isinstance(exc, BotoCoreError):
        return ProviderError(f"{action}: {exc}", hint="retry; if it persists, run with AWS debug logging")
    return ProviderError(f"{action}: {type(exc).__name__}: {exc}")


def _client_error(exc: ClientError, action: str) -> CorralError:
    code = error_code(exc)
    text = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    message = f"{action} failed ({code}): {text}"
    if code in ACCESS_DENIED_CODES:
        return PrerequisiteError(
            message,
            hint=f"the AWS identity in use is not allowed to call {action}: grant it in its IAM policy "
            "(`aws sts get-caller-identity` shows which identity that is), or use another AWS_PROFILE",
        )
    if code in THROTTLING_CODES:
        return ProviderError(
            f"{message} (still throttled after {retries} retries with backoff)",
            hint="AWS is rate-limiting this account: retry in a minute, or raise the retry budget with "
            "AWS_MAX_ATTEMPTS",
        )
    if code in LIMIT_CODES:
        return LimitExceededError(
            message,
            hint="a service quota of the account is reached: free capacity, or request an increase "
            "in the Service Quotas console",
        )
    if code in CAPACITY_CODES:
        return ProviderError(
            message, hint="EC2 has no capacity for this instance type here now: retry later or add types"
        )
    if code in ("AlreadyExistsException", "BucketAlreadyExists"):
        return ConflictError(
            message, hint="a stack or bucket of that name exists already: delete it, or pick another name"
        )
    if code in NOT_FOUND_CODES or (code == "ValidationError" and "does not exist" in text):
        return NotFoundError(message, hint="check the name and the region (AWS_REGION / Region)")
    return ProviderError(message, hint="see the AWS error above; `aws` CLI with --debug shows the request")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Translate any botocore exception raised inside the block (``with aws_errors("DescribeStacks"):``)."""
    try:
        yield
    except BOTO_ERRORS as exc:
        raise translate(exc, action) from exc


def aws_call(action: str, fn: Callable[..., T], **kwargs: object) -> T:
    """``fn(**kwargs)``, botocore errors translated: ``aws_call("CreateStack", cfn.create_stack, ...)``."""
    with aws_errors(action):
        return fn(**kwargs)


__all__ = [
    "ACCESS_DENIED_CODES",
    "BOTO_ERRORS",
    "CAPACITY_CODES",
    "CREDENTIALS_HINT",
    "LIMIT_CODES",
    "THROTTLING_CODES",
    "aws_call",
    "aws_errors",
    "error_code",
    "translate",
]
