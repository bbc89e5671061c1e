"""Subcommands of the ``qasr`` CLI that live in their own modules (imports stay light until they run)."""
