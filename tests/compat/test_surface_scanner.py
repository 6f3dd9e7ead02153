"""The surface check's own parts: the Python 2 and 3 scanners, resolution and signature rules."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import pytest

from tests.compat import surface

PY2_SOURCE = '''
"""A Python 2 module."""
import sys
from pkg._private import Hidden, helper as renamed
from pkg import common

try:
    import hashlib
    md5_hash = hashlib.md5
except ImportError, e:
    print "no hashlib"
    md5_hash = None

LIMIT = 10
NAMES, OTHER = 'a', 'b'
ALIAS = common.STATUS

def top(a, b=None, c=-1, *args, **kwargs):
    print >>sys.stderr, "x = %d" % a
    def inner(z):
        pass
    return `a`

def maxed(f, limit=sys.maxint, mode='t'):
    pass

def tupled(a, (b, c)):
    pass

class Empty(Exception): pass

class Thing(Base):
    """Doc."""
    counter = 0

    def __init__(self, request, options=None):
        self.request = request
        self._hidden = 1
        if options:
            self.options = options

    @staticmethod
    def make(x):
        return Thing(x)

    @property
    def size(self):
        return 1

    def _impl(self, s):
        return s

    if 'fast' in globals():
        mask = _impl
    else:
        mask = _impl

    def _private(self):
        pass
'''

PY3_SOURCE = """
from pkg._private import Hidden
from . import common

LIMIT: int = 10

def top(a, /, b, *, c=common.STATUS, **kw):
    pass

class Thing(Hidden):
    def __init__(self, x, y=[]):
        self.x = x

    @classmethod
    def make(cls, x):
        pass
"""


def test_python2_scanner() -> None:
    module = surface.scan_python2("mod", PY2_SOURCE, "pkg", False)
    assert set(module.functions) == {"top", "maxed", "tupled"}
    assert module.functions["top"].text() == "(a, b=None, c=- 1, *args, **kwargs)"
    kinds = [p.kind for p in module.functions["top"].params]
    assert kinds == [surface.POSITIONAL] * 3 + [surface.VAR_POSITIONAL, surface.VAR_KEYWORD]
    assert module.functions["tupled"].params[1].name is None
    assert set(module.classes) == {"Empty", "Thing"}
    assert module.classes["Empty"].bases == ["Exception"]
    thing = module.classes["Thing"]
    assert thing.bases == ["Base"]
    assert {name: m.kind for name, m in thing.members.items()} == {
        "counter": "attribute",
        "__init__": "method",
        "make": "staticmethod",
        "size": "property",
        "_impl": "method",
        "mask": "method",
        "_private": "method",
    }
    assert thing.members["mask"].signature == thing.members["_impl"].signature
    assert thing.instance_attributes == {"request", "_hidden", "options"}
    assert set(module.constants) == {"md5_hash", "LIMIT", "NAMES", "OTHER", "ALIAS"}
    assert module.imports == {
        "Hidden": ("_private", "Hidden"),
        "renamed": ("_private", "helper"),
        "common": ("", "common"),
    }


def test_python3_scanner() -> None:
    module = surface.scan_python3("mod", PY3_SOURCE, "pkg", False)
    kinds = [p.kind for p in module.functions["top"].params]
    assert kinds == [
        surface.POSITIONAL_ONLY,
        surface.POSITIONAL,
        surface.KEYWORD_ONLY,
        surface.VAR_KEYWORD,
    ]
    thing = module.classes["Thing"]
    assert thing.members["make"].kind == "classmethod"
    assert thing.instance_attributes == {"x"}
    assert module.imports["common"] == ("", "common")
    assert set(module.constants) == {"LIMIT"}


def reference() -> surface.Reference:
    modules = {
        "": surface.scan_python3("", "", "pkg", True),
        "common": surface.scan_python3(
            "common", "STATUS = 1000\nPORT = STATUS + 1\n", "pkg", False
        ),
        "_private": surface.scan_python3(
            "_private",
            "class Hidden(object):\n    def run(self, n=3): pass\n    def _secret(self): pass\n",
            "pkg",
            False,
        ),
        "mod": surface.scan_python3("mod", PY3_SOURCE, "pkg", False),
    }
    return surface.Reference("pkg", "1.0", modules)


def test_expected_names_resolve_reexports_defaults_and_inheritance() -> None:
    items = {(e.module, e.qualname, e.kind): e for e in surface.expected_names(reference())}
    assert ("_private", "", "module") not in items  # private modules are not the surface
    assert ("mod", "Hidden", "class") in items  # but what public ones re-export from them is
    assert ("mod", "Hidden.run", "method") in items
    assert ("mod", "Hidden._secret", "method") not in items
    assert ("mod", "Thing.run", "method") in items  # inherited from the package's own base
    assert items[("mod", "Thing", "base")].base == "_private:Hidden"
    assert ("mod", "Thing.x", "instance attribute") in items
    assert ("mod", "common", "module") not in items  # an imported module is not a name
    assert items[("common", "STATUS", "constant")].value == 1000
    assert items[("common", "PORT", "constant")].value is surface.UNKNOWN
    top = items[("mod", "top", "function")].signature
    assert top is not None and top.params[2].default == 1000  # common.STATUS, resolved
    thing_init = items[("mod", "Thing", "class")].signature
    assert thing_init is not None and thing_init.text() == "(x, y=[])"


def sig(text: str) -> surface.Signature:
    module = surface.scan_python3("m", f"def f{text}: pass", "pkg", False)
    return surface._resolve_signature(module.functions["f"], module, {"m": module})


def ours(fn: Any) -> inspect.Signature:
    return inspect.signature(fn)


def test_compatible_signatures() -> None:
    def same(a, b=None, *args, **kwargs): ...  # type: ignore[no-untyped-def]
    def more(a, b=None, c=3, *args, d=1, **kwargs): ...  # type: ignore[no-untyped-def]
    def mutable(a, b=None): ...  # type: ignore[no-untyped-def]

    assert surface.compare_signatures(sig("(a, b=None, *args, **kwargs)"), ours(same)) == []
    assert surface.compare_signatures(sig("(a, b=None, *args, **kwargs)"), ours(more)) == []
    assert surface.compare_signatures(sig("(a, b=[])"), ours(mutable)) == []


@pytest.mark.parametrize(
    ("reference", "fn", "complaint"),
    [
        ("(a, b)", lambda a: None, "position 1 ('b') is not accepted"),
        ("(a, b)", lambda a, c: None, "no keyword 'b'"),
        ("(a, b=1)", lambda a, b: None, "needs a default"),
        ("(a, b=1)", lambda a, b=2: None, "default of 'b' is 2 here"),
        ("(a, b=True)", lambda a, b=1: None, "default of 'b' is 1 here"),
        ("(a)", lambda a, extra: None, "extra parameter 'extra' has no default"),
        ("(a, *args)", lambda a: None, "*args is not accepted"),
        ("(a, **kw)", lambda a: None, "**kw is not accepted"),
        ("(a, *, k=1)", lambda a: None, "no keyword 'k'"),
    ],
)
def test_incompatible_signatures(reference: str, fn: Any, complaint: str) -> None:
    problems = surface.compare_signatures(sig(reference), ours(fn))
    assert any(complaint in p for p in problems), problems


def test_python2_strings_equal_bytes_and_maxint_is_maxsize() -> None:
    assert surface._compare_value(b"ws", "ws") is None
    assert surface._compare_value(1, True) is not None
    assert surface.evaluate("sys . maxint", None) == sys.maxsize


def test_check_and_report_fold_both_import_names() -> None:
    fake = surface.Expected("util", "NoSuchThing", "class", sig("(x)"), sources={"pkg 1.0"})
    member = surface.Expected(
        "util", "NoSuchThing.go", "method", sig("(self)"), sources={"pkg 1.0"}
    )
    present = surface.Expected("util", "hexify", "function", sig("(s)"), sources={"pkg 1.0"})
    problems = surface.check([fake, member, present])
    assert {(p.import_name, p.item.qualname) for p in problems} == {
        ("mod_pywebsocket", "NoSuchThing"),
        ("pywebsocket3", "NoSuchThing"),
        ("mod_pywebsocket", "NoSuchThing.go"),
        ("pywebsocket3", "NoSuchThing.go"),
    }
    text = surface.report(problems)
    assert "util:\n  class NoSuchThing(x): missing class  [pkg 1.0]\n      members: go" in text
    assert surface.report([]) == "no missing names or mismatches"
