"""The `segassist` command line: the composition root.

Settings are read once (cli_base) and passed down as plain arguments. Errors are
turned into one clear line on stderr and an exit code (2: fix your input,
1: something on this machine failed); `--debug` shows the traceback instead.
The commands live in cli_data, cli_segmenter, cli_agent and cli_ui; importing
them registers them on the `cli` group.
"""

from __future__ import annotations

import sys

import click

from segassist import cli_agent, cli_data, cli_segmenter, cli_ui  # noqa: F401 (they register)
from segassist.cli_base import cli
from segassist.core.errors import InfrastructureError, SegassistError, UserInputError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return its exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="segassist", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except UserInputError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except (InfrastructureError, SegassistError) as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except Exception as e:  # the edge: anything unexpected still gets one clear line
        if debug:
            raise
        click.echo(_unexpected_message(e), err=True)
        return 1
    return 0


def _unexpected_message(error: Exception) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        return (
            f"error: the database refused the operation: {str(error.orig).strip()}. "
            "Nothing was written (imports run in one transaction). Re-run with --debug for details."
        )
    return (
        f"error: unexpected {type(error).__name__}: {error}. "
        "Re-run with --debug for the traceback and report it."
    )


if __name__ == "__main__":
    sys.exit(main())
