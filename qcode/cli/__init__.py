"""The command-line interface (typer). The library below it never imports typer or rich."""
