"""Checks of the fs3 command line as a user meets it (``from _cli import one_error_line``)."""

from __future__ import annotations


def one_error_line(proc, *needles) -> str:
    """A user mistake: exit status 1, exactly one line on stderr naming the problem (each of
    ``needles``), no traceback; returns that stderr."""
    err = proc.stderr.decode() if isinstance(proc.stderr, bytes) else proc.stderr
    assert proc.returncode == 1, (proc.returncode, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err
