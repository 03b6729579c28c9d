"""What the local commands (`make invoke`, `make dump`) share about their output."""

from __future__ import annotations

import os
import sys


def write_quietly(text: str) -> int:
    """Write `text` to stdout. A reader that stops early (`| head`, `| jq` on a closed pipe) is no error and no
    traceback: the rest goes nowhere. Returns 0, the exit status."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's own flush then writes nowhere
    return 0
