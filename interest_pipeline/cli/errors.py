"""One line per error: `Error: ...` on stderr, exit 2 for bad input, 1 for a failure, no traceback.

Click prints usage lines above its usage errors and lets any other exception escape as a
traceback; this group turns both into the one line (`--debug` shows the traceback instead).
"""

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from interest_pipeline.batch.config import BatchConfigError
from interest_pipeline.launch import LaunchRefused
from interest_pipeline.settings import SettingsError

USAGE = 2
FAILURE = 1
DEBUG_FLAG = "--debug"


class BadInput(click.ClickException):
    """The user's input (arguments, environment) is refused: exit status 2."""

    exit_code = USAGE


def refused(error: LaunchRefused) -> click.ClickException:
    return BadInput(str(error)) if error.usage else click.ClickException(str(error))


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


class OneLineErrorGroup(click.Group):
    def main(self, args: Sequence[str] | None = None, *pos: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        debug = DEBUG_FLAG in argv
        kwargs.pop("standalone_mode", None)
        try:
            super().main(argv, *pos, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.Abort:
            _fail("aborted", FAILURE)
        except click.ClickException as error:
            if debug:
                raise
            # A report that is a list (a CSV file's errors) keeps its lines; the first is the summary.
            _fail(error.format_message(), error.exit_code)
        except (SettingsError, BatchConfigError) as error:
            if debug:
                raise
            _fail(_one_line(error), USAGE)
        except LaunchRefused as error:
            if debug:
                raise
            _fail(_one_line(error), USAGE if error.usage else FAILURE)
        except Exception as error:
            if debug:
                raise
            _fail(
                f"{type(error).__name__}: {_one_line(error)} (run with {DEBUG_FLAG} for the traceback)",
                FAILURE,
            )
        sys.exit(0)
