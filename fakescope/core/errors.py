"""Errors a user can act on. The CLI turns these into exit code 2 and one line on stderr."""


class UnusableInputError(ValueError):
    """The input file or argument cannot be analysed (missing, corrupt, not a video, too big)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
