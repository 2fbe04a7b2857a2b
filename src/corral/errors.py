"""Corral's one error tree: every exception class Corral defines is here.

Every error a user can cause carries a stable ``code`` and a ``hint`` that names the fix. Interfaces
(CLI, API) print ``message`` and ``hint`` and never a traceback for a ``CorralError``::

    CorralError                       code             raised by
    ├── BadRequestError               BadRequestException  interfaces, service, settings
    │   ├── ConfigError               ConfigValidationError  config (carries every finding)
    │   └── UpdateRefusedError        UpdateClusterBadRequestException  service (update-cluster)
    ├── NotFoundError                 NotFoundException    state, service
    ├── ConflictError                 ConflictException    state, service
    │   └── StaleWriteError           ConflictException    state (a versioned write lost)
    ├── PrerequisiteError             PrerequisiteError    providers (root, packages, namespaces)
    ├── ProviderError                 ProviderError        providers
    │   └── InsufficientCapacityError InsufficientCapacityError  providers (capacity, as data)
    ├── LimitExceededError            LimitExceededException
    ├── StateStoreError               StateStoreError      state (corrupt, locked, read-only, full)
    ├── FetchError                    FetchError           node (a script or file from the config)
    └── S3Error                       BadRequestException  providers.s3 (export to a bucket)

    Exception (internal: caught where they are raised, never shown as such)
    ├── ActionFailure                 node: a custom action failed
    ├── BootstrapFailure              node: a node's bootstrap failed
    ├── MountError                    node: a mount failed
    ├── StorageError                  aws node: a storage step failed
    ├── RunInterrupted                service: ``corral run`` got a signal
    ├── YamlBudgetExceeded            config: a YAML file expands past the node or depth limit
    └── KeySupportDataError (ValueError)  config: the key-support table is malformed (a bug)

    BaseException (like KeyboardInterrupt: not an error, an interruption)
    └── Terminated                    cli: SIGTERM/SIGHUP during a create or update (rolled back
                                      as Ctrl-C; the service and the CLI tell it by its type)

A new error goes into this tree (and its drawing); modules import it from here.
"""

from __future__ import annotations

import signal
from typing import Any


class CorralError(Exception):
    """Base of every error Corral raises on purpose."""

    code = "CorralError"
    #: Process exit status the CLI uses for this error.
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class BadRequestError(CorralError):
    """The user asked for something malformed (bad name, bad flag value)."""

    code = "BadRequestException"


class ConfigError(BadRequestError):
    """The config file cannot be read or does not validate.

    ``findings`` holds located problems (objects with ``level``, ``code``, ``path``, ``message``,
    ``hint``, and a ``location()``), so every one of them can be shown at once.
    """

    code = "ConfigValidationError"

    def __init__(self, message: str, hint: str = "", findings: tuple[object, ...] = ()) -> None:
        super().__init__(message, hint)
        self.findings = findings


class UpdateRefusedError(BadRequestError):
    """update-cluster refused the change set (pcluster's ``UpdateClusterBadRequestException``).

    ``update_errors`` are pcluster's ``updateValidationErrors`` items (``parameter``,
    ``currentValue``, ``requestedValue``, ``message``), ``change_set`` its ``changeSet`` items."""

    code = "UpdateClusterBadRequestException"

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        update_errors: tuple[dict[str, object], ...] = (),
        change_set: tuple[dict[str, object], ...] = (),
    ) -> None:
        super().__init__(message, hint)
        self.update_errors = update_errors
        self.change_set = change_set


class NotFoundError(CorralError):
    code = "NotFoundException"
    exit_code = 1


class ConflictError(CorralError):
    """The name is taken, or the resource is in a state that forbids the request."""

    code = "ConflictException"


class PrerequisiteError(CorralError):
    """The machine lacks something Corral needs (root, a package, namespace support)."""

    code = "PrerequisiteError"


class ProviderError(CorralError):
    """Infrastructure could not be created, changed or removed."""

    code = "ProviderError"


class InsufficientCapacityError(ProviderError):
    """The provider has no capacity for an instance type right now (EC2's insufficient-capacity
    errors, or a local capacity limit). ``reason_code`` is the EC2-style code that
    ParallelCluster writes into the node's reason (``InsufficientInstanceCapacity``, ...)."""

    code = "InsufficientCapacityError"

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        reason_code: str = "InsufficientInstanceCapacity",
        instance_type: str = "",
        compute_resource: str = "",
    ) -> None:
        super().__init__(message, hint)
        self.reason_code = reason_code
        self.instance_type = instance_type
        self.compute_resource = compute_resource


class LimitExceededError(CorralError):
    code = "LimitExceededException"


class StateStoreError(CorralError):
    """The state database cannot be used; ``cause`` is one of corrupt, locked, read-only, full, io."""

    code = "StateStoreError"

    def __init__(self, message: str, *, hint: str, cause: str) -> None:
        super().__init__(message, hint=hint)
        self.cause = cause


class StaleWriteError(ConflictError):
    """A versioned write lost: the row changed since it was read. Re-read and decide again."""


class FetchError(CorralError):
    """A script or file named in the config could not be fetched."""

    code = "FetchError"


class S3Error(CorralError):
    """An object store request failed (export-cluster-logs to a bucket)."""

    code = "BadRequestException"
    exit_code = 1


class ActionFailure(Exception):
    """A custom action exited non-zero, timed out or could not start."""


class BootstrapFailure(Exception):
    """A node's bootstrap failed (the agent reports it and stops the node's services)."""


class MountError(Exception):
    """A mount inside a node failed."""


class StorageError(Exception):
    """A storage step on an AWS node that cannot be done, with the reason."""


class RunInterrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP during a run: the cluster is torn down, the run exits non-zero."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


class YamlBudgetExceeded(Exception):
    """The YAML walk met more nodes, or a deeper nesting, than a config may have: it stops at once
    and the one ``finding`` (a located ``corral.config.findings.Finding``) says where and why."""

    def __init__(self, finding: Any) -> None:
        super().__init__(getattr(finding, "message", str(finding)))
        self.finding = finding


class Terminated(BaseException):
    """The process received SIGTERM or SIGHUP while a create or update ran (``signum`` says which).
    A ``BaseException``, as KeyboardInterrupt is, so that nothing catching ``Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class KeySupportDataError(ValueError):
    """The data file is malformed (a bug in Corral, caught by the unit tests)."""


__all__ = [
    "ActionFailure",
    "BadRequestError",
    "BootstrapFailure",
    "ConfigError",
    "ConflictError",
    "CorralError",
    "FetchError",
    "InsufficientCapacityError",
    "KeySupportDataError",
    "LimitExceededError",
    "MountError",
    "NotFoundError",
    "PrerequisiteError",
    "ProviderError",
    "RunInterrupted",
    "S3Error",
    "StaleWriteError",
    "StateStoreError",
    "StorageError",
    "Terminated",
    "UpdateRefusedError",
    "YamlBudgetExceeded",
]
