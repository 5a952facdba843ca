"""``python -m qcode``."""

from qcode.cli.main import run_cli

run_cli()
