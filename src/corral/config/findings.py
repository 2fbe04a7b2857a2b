"""Findings: what validation reports, one problem each, located in the source file where possible."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Level(enum.IntEnum):
    """Severity of a finding. Ordered, so ``finding.level >= failure_level`` decides blocking."""

    INFO = 10
    WARNING = 20
    ERROR = 30

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            from corral.errors import BadRequestError

            raise BadRequestError(
                f"unknown validation level {text!r}",
                hint="use one of INFO, WARNING, ERROR",
            ) from None


@dataclass(frozen=True)
class Finding:
    """One validation result.

    ``code`` is stable and named like ParallelCluster's validator (``MaxCountValidator``); schema
    and parse problems use ``ConfigSchemaValidator``/``YamlSyntaxValidator``-style codes.
    ``path`` is the key path in the config, e.g. ``Scheduling/SlurmQueues[1]/ComputeResources[0]/MinCount``.
    """

    level: Level
    code: str
    path: str
    message: str
    hint: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def located(self, file: str | None, line: int | None, column: int | None) -> Finding:
        return replace(self, file=file, line=line, column=column)

    def location(self) -> str:
        """``cluster.yaml:42:7 Scheduling/SlurmQueues[1]/MinCount: must be >= 0 (hint: ...)``."""
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += " "
        path = f"{self.path}: " if self.path else ""
        text = f"{where}{path}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_validation_message(self) -> dict[str, str]:
        """The ``{level, type, message}`` shape of pcluster's ``validationMessages``."""
        message = f"{self.path}: {self.message}" if self.path else self.message
        if self.hint:
            message += f" {self.hint}" if message.endswith(".") else f". {self.hint}"
        return {"level": self.level.name, "type": self.code, "message": message}


__all__ = ["Finding", "Level"]
