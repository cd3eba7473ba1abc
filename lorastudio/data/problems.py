"""What is wrong with a data file, said by row or line with its fix, and the error that carries
every such problem (a file with problems is never added, nothing of it is kept)."""

from __future__ import annotations

from dataclasses import dataclass

from lorastudio.errors import LoraStudioError
from lorastudio.messages import DEFAULT_LANGUAGE, Msg, msg


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with a data file: what (naming the row or line) and what to do."""

    message: Msg
    fix: Msg | None = None

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if self.fix is None:
            return self.message.text(lang)
        return msg("error.with_fix", message=self.message, fix=self.fix).text(lang)

    def __str__(self) -> str:
        return self.text(DEFAULT_LANGUAGE)


class DataError(LoraStudioError):
    """A data file cannot be added (or read) as it is; ``problems`` lists what was found, each
    with the row or line it is on. Nothing was registered and nothing half-written is kept."""

    def __init__(self, problems: list[DataProblem], source: str = ""):
        self.problems = list(problems)
        self.source = source
        said = {"file": source or "—", "count": len(self.problems)}
        one = len(self.problems) == 1
        super().__init__(msg("data.problem_one", **said) if one else msg("data.problems", **said))

    @classmethod
    def one(cls, message: Msg, fix: Msg | None = None, source: str = "") -> DataError:
        return cls([DataProblem(message, fix)], source)

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if len(self.problems) == 1 and not self.source:
            return self.problems[0].text(lang)
        head = self.message.text(lang)
        return "\n".join([head, *(f"  - {p.text(lang)}" for p in self.problems)])

    def keys(self) -> list[str]:
        """The message keys of the problems, in order (what tests and callers compare)."""
        return [p.message.key for p in self.problems]
