"""The error hierarchy drawn in fs3/_errors.py's docstring is the one the module defines."""

from __future__ import annotations

import errno
import re

from fs3 import _errors


def test_the_drawing_names_every_error_class_with_its_parent_and_errno():
    drawn = {}
    parents: list[tuple[int, str]] = [(-1, "OSError")]  # (column of the branch, class) down to here
    for line in _errors.__doc__.splitlines():
        m = re.match(r"^([│ ]*)[├└]── (\w+)(?: \((\w+)\))?\s+(E[A-Z]+)?", line)
        if not m:
            continue
        column = len(m.group(1))
        while parents[-1][0] >= column:
            parents.pop()
        drawn[m.group(2)] = (parents[-1][1], m.group(4))
        parents.append((column, m.group(2)))
    classes = {name: cls for name, cls in vars(_errors).items()
               if isinstance(cls, type) and issubclass(cls, _errors.FS3Error)}
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        parent, code = drawn[name]
        assert parent == ("OSError" if cls is _errors.FS3Error else cls.__mro__[1].__name__), name
        if code is not None:
            assert getattr(errno, code) == cls.errno_default, name
