"""Corral's one error tree.

Every error a user can cause carries a stable ``code`` and a ``hint`` that names the fix. Interfaces
(CLI, API) print ``message`` and ``hint`` and never a traceback for a ``CorralError``.
"""

from __future__ import annotations


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


__all__ = [
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "CorralError",
    "InsufficientCapacityError",
    "LimitExceededError",
    "NotFoundError",
    "PrerequisiteError",
    "ProviderError",
    "UpdateRefusedError",
]
