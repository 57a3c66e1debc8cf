"""Subcommands of the ``safe-embed`` CLI, one module each."""
