"""Config problems as people need to read them: file, line, field path, what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    file: str
    line: int | None
    path: str
    """Dotted field path, e.g. "services.github-api.retry.attempts" ("" for the whole file)."""
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """Everything wrong with a config file, collected in one pass, in file order."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda issue: (issue.line or 0, issue.path))
        super().__init__(str(self))

    @classmethod
    def single(cls, file: str | Path, message: str, *, line: int | None = None, path: str = "") -> ConfigError:
        return cls([ConfigIssue(str(file), line, path, message)])

    def __str__(self) -> str:
        if len(self.issues) == 1:
            return str(self.issues[0])
        lines = [f"{self.issues[0].file}: {len(self.issues)} problems"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)
