"""What the commands share with the command line's entry point, kept apart so that neither
imports the other."""

from __future__ import annotations

import argparse


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=argparse.SUPPRESS, help="settings file (default: settings.toml)")
