"""What the data commands refuse, as data/'s own errors: the CLI turns them into one clear line.

Nothing in `data/` knows about click; a caller from Python (a test, a notebook, another service)
catches these like any other exception.
"""


class DataError(Exception):
    """Base of every refusal by the generator and the loader; nothing was written."""


class InvalidArguments(DataError, ValueError):
    """An argument the generator cannot use (`parameter` names it, as the CLI spells it)."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class BookNotEmptyError(DataError):
    """The input tables already hold data and replace was not asked for."""


class LedgerNotEmptyError(DataError):
    """replace met a ledger with entries and discard_ledger was not given."""
