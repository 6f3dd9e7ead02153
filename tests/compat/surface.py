"""The public surface of pywebsocket3 4.0.2 and mod_pywebsocket 0.7.9, and what we lack of it.

Handlers and harnesses written for either package import its modules and call
its names; this module reads both packages' sdists (never installing or
importing them), lists every module, top-level function, class, constant,
public method and the private names real handlers use, and checks each one
here under both import names (``mod_pywebsocket.X`` and ``pywebsocket3.X``)
with a compatible signature. ``tests/compat/test_surface.py`` fails with the
list; ``scripts/surface_report.py`` prints the same list.

pywebsocket3 is Python 3 source and is read with ``ast``. mod_pywebsocket 0.7.9
is Python 2 source (``except X, e:``, print statements), which ``ast`` cannot
parse, so it is read with ``tokenize`` (which tokenizes Python 2 well enough):
logical lines, their indentation depth, and the def/class/assignment/import
lines among them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import logging
import os
import subprocess
import sys
import tarfile
import textwrap
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYWEBSOCKET3 = ("pywebsocket3", "4.0.2")
MOD_PYWEBSOCKET = ("mod_pywebsocket", "0.7.9")
REFERENCES = (PYWEBSOCKET3, MOD_PYWEBSOCKET)
IMPORT_NAMES = ("mod_pywebsocket", "pywebsocket3")
SDIST_DIR_ENV = "MOD_PYWEBSOCKET_REFERENCE_SDISTS"
DEFAULT_CACHE = Path.home() / ".cache" / "mod_pywebsocket-ref"

# Modules left out: mux was an experiment nobody's handlers import.
EXCLUDED_MODULES = frozenset({"mux"})
# Names left out: the mux extension's processor goes with the mux module.
EXCLUDED_NAMES = frozenset({("extensions", "MuxExtensionProcessor")})
# Private names real handlers use (API.md section 7), by (module, class) or module.
PRIVATE_MODULE_NAMES = {
    "util": frozenset({"_Inflater", "_Deflater", "_RFC1979Deflater", "_RFC1979Inflater"}),
}
# Differences we keep on purpose, by (module, name, reference): why. The check lists
# them apart instead of failing on them.
ACCEPTED_DIFFERENCES = {
    (
        "common",
        "parse_extensions",
        "mod_pywebsocket 0.7.9",
    ): "allow_quoted_string defaults to True: pywebsocket3 always accepted quoted values, "
    "0.7.9 refused them unless asked; passing False still refuses them",
}
PRIVATE_CLASS_NAMES = {
    ("stream", "Stream"): frozenset(
        {
            "_receive_frame",
            "_receive_frame_as_frame_object",
            "_get_message_from_frame",
            "_process_close_message",
            "_send_pong",
            "_options",
        }
    ),
    ("handshake.base", "HandshakerBase"): frozenset(
        {
            "_validate_request",
            "_set_accept",
            "_send_handshake",
            "_transform_header",
            "_protocol_rfc",
            "do_handshake",
            "_check_version",
            "_get_origin",
            "_set_protocol",
            "_parse_extensions",
            "_get_extension_processors_requested",
            "_process_extensions",
        }
    ),
}


# --- the model -------------------------------------------------------------------------


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NO_DEFAULT = _Sentinel("NO_DEFAULT")
UNKNOWN = _Sentinel("UNKNOWN")  # a default or value we cannot evaluate statically


@dataclass(frozen=True)
class _Expression:
    """A default or constant as written, until ``evaluate`` gives its value."""

    text: str


POSITIONAL = "positional"
VAR_POSITIONAL = "*args"
KEYWORD_ONLY = "keyword-only"
VAR_KEYWORD = "**kwargs"
POSITIONAL_ONLY = "positional-only"


@dataclass(frozen=True)
class Param:
    name: str | None  # None for a Python 2 tuple parameter
    kind: str
    default: object = NO_DEFAULT  # NO_DEFAULT, UNKNOWN or the evaluated value
    default_text: str = ""


@dataclass(frozen=True)
class Signature:
    params: tuple[Param, ...]

    def text(self) -> str:
        parts = []
        for p in self.params:
            prefix = {VAR_POSITIONAL: "*", VAR_KEYWORD: "**"}.get(p.kind, "")
            name = p.name or "(...)"
            parts.append(f"{prefix}{name}" + (f"={p.default_text}" if p.default_text else ""))
        return "(" + ", ".join(parts) + ")"

    def without_first(self) -> Signature:
        return Signature(self.params[1:])


@dataclass
class Member:
    """A function, method (``kind`` method/static/class/property) or attribute."""

    kind: str  # function, method, staticmethod, classmethod, property, attribute
    signature: Signature | None = None


@dataclass
class ClassInfo:
    name: str
    bases: list[str]  # as written: "Name" or "module.Name"
    members: dict[str, Member] = field(default_factory=dict)
    instance_attributes: set[str] = field(default_factory=set)


@dataclass
class ModuleInfo:
    name: str  # relative to the package: "", "util", "handshake.base"
    functions: dict[str, Signature] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    # name -> (source module relative name, original name) for package-internal imports
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    is_package: bool = False  # an __init__.py: relative imports start from here


@dataclass
class Reference:
    package: str
    version: str
    modules: dict[str, ModuleInfo]


# --- getting the sdists ------------------------------------------------------------------


def sdist_paths() -> dict[tuple[str, str], Path]:
    """The two sdists: from $MOD_PYWEBSOCKET_REFERENCE_SDISTS, else downloaded once.

    A download that fails raises RuntimeError: the surface check never passes
    by not looking.
    """
    given = os.environ.get(SDIST_DIR_ENV)
    directory = Path(given) if given else DEFAULT_CACHE
    found = {ref: _find_sdist(directory, *ref) for ref in REFERENCES}
    missing = [ref for ref, path in found.items() if path is None]
    if missing and given:
        raise RuntimeError(
            f"{SDIST_DIR_ENV}={given} lacks the sdists of "
            + ", ".join(f"{n}=={v}" for n, v in missing)
        )
    if missing:
        directory.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            *(f"{n}=={v}" for n, v in missing),
            "-d",
            str(directory),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(
                f"cannot download the reference sdists ({' '.join(command)}):\n"
                + result.stdout[-2000:]
                + result.stderr[-2000:]
            )
        found = {ref: _find_sdist(directory, *ref) for ref in REFERENCES}
    paths: dict[tuple[str, str], Path] = {}
    for ref, path in found.items():
        if path is None:
            raise RuntimeError(f"no sdist of {ref[0]}=={ref[1]} in {directory}")
        paths[ref] = path
    return paths


def _find_sdist(directory: Path, name: str, version: str) -> Path | None:
    path = directory / f"{name}-{version}.tar.gz"
    return path if path.is_file() else None


def package_sources(sdist: Path, package: str) -> dict[str, tuple[str, bool]]:
    """Relative module name -> (source text, is a package) of ``package``'s .py files."""
    sources: dict[str, tuple[str, bool]] = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if not member.isfile() or len(parts) < 3 or parts[1] != package:
                continue
            if not parts[-1].endswith(".py"):
                continue
            stem = parts[2:-1] + [parts[-1][:-3]]
            is_package = stem[-1] == "__init__"
            if is_package:
                stem = stem[:-1]
            extracted = tar.extractfile(member)
            assert extracted is not None
            text = extracted.read().decode("utf-8", "replace")
            sources[".".join(stem)] = (text, is_package)
    return sources


def load_references() -> list[Reference]:
    paths = sdist_paths()
    references = []
    for package, version in REFERENCES:
        sources = package_sources(paths[(package, version)], package)
        scan = scan_python3 if package == "pywebsocket3" else scan_python2
        modules = {
            name: scan(name, text, package, is_package)
            for name, (text, is_package) in sources.items()
        }
        references.append(Reference(package, version, modules))
    return references


# --- evaluating defaults and constants ---------------------------------------------------

_KNOWN_MODULES = {
    "sys": sys,
    "zlib": __import__("zlib"),
    "socket": __import__("socket"),
    "logging": __import__("logging"),
    "ssl": __import__("ssl"),
}
_PY2_RENAMES = {"sys.maxint": "sys.maxsize"}


def evaluate(
    expression: str, module: ModuleInfo | None, modules: dict[str, ModuleInfo] | None = None
) -> object:
    """The value of a default or constant expression, or UNKNOWN.

    Literals, names of constants in the same module, ``common.X`` style names of
    the package's own constants, and a few stdlib attributes (``zlib.MAX_WBITS``).
    """
    expression = expression.strip()
    try:
        return ast.literal_eval(expression)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    expression = _PY2_RENAMES.get(expression.replace(" ", ""), expression.replace(" ", ""))
    parts = expression.split(".")
    if not all(p.isidentifier() for p in parts):
        return UNKNOWN
    value: object = UNKNOWN
    if len(parts) == 1 and module is not None:
        value = module.constants.get(parts[0], UNKNOWN)
    elif (
        len(parts) == 2
        and module is not None
        and modules is not None
        and (parts[0] in module.imports)
    ):
        source, original = module.imports[parts[0]]
        owner = f"{source}.{original}" if source else original
        if owner in modules:
            value = modules[owner].constants.get(parts[1], UNKNOWN)
    elif len(parts) == 2 and parts[0] in _KNOWN_MODULES:
        value = getattr(_KNOWN_MODULES[parts[0]], parts[1], UNKNOWN)
    return UNKNOWN if isinstance(value, _Expression) else value


def _resolve_constants(modules: dict[str, ModuleInfo]) -> None:
    """Replace constant expressions kept as text by their values, where knowable.

    A few passes, since a constant may name another defined later or elsewhere.
    """
    for last in (False, False, True):
        for module in modules.values():
            for name, value in list(module.constants.items()):
                if isinstance(value, _Expression):
                    result = evaluate(value.text, module, modules)
                    if result is not UNKNOWN or last:
                        module.constants[name] = result


def _resolve_signature(
    sig: Signature, module: ModuleInfo, modules: dict[str, ModuleInfo]
) -> Signature:
    return Signature(
        tuple(
            Param(p.name, p.kind, evaluate(p.default.text, module, modules), p.default_text)
            if isinstance(p.default, _Expression)
            else p
            for p in sig.params
        )
    )


def _relative(
    module_path: str | None, level: int, current: str, package: str, is_package: bool
) -> str | None:
    """The package-relative name of an imported module, or None if outside the package."""
    if level:
        base = current.split(".") if current else []
        if not is_package:
            base = base[:-1]
        if level > 1:
            base = base[: len(base) - (level - 1)]
        target = base + (module_path.split(".") if module_path else [])
        return ".".join(target)
    if module_path is None:
        return None
    if module_path == package:
        return ""
    if module_path.startswith(package + "."):
        return module_path[len(package) + 1 :]
    return None


# --- Python 3 sources: ast -------------------------------------------------------------


def _signature_from_ast(args: ast.arguments, module: ModuleInfo) -> Signature:
    params: list[Param] = []
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = POSITIONAL_ONLY if i < len(args.posonlyargs) else POSITIONAL
        params.append(_param(arg.arg, kind, default, module))
    if args.vararg:
        params.append(Param(args.vararg.arg, VAR_POSITIONAL))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(_param(arg.arg, KEYWORD_ONLY, kw_default, module))
    if args.kwarg:
        params.append(Param(args.kwarg.arg, VAR_KEYWORD))
    return Signature(tuple(params))


def _param(name: str, kind: str, default: ast.expr | None, module: ModuleInfo) -> Param:
    if default is None:
        return Param(name, kind)
    text = ast.unparse(default)
    return Param(name, kind, _Expression(text), text)


def _decorator_kind(decorators: list[ast.expr]) -> str:
    for d in decorators:
        if isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod", "property"):
            return d.id
        if isinstance(d, ast.Attribute) and d.attr in ("setter", "getter", "deleter"):
            return "property"
    return "method"


def _flat(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a block, looking into if/try/with blocks (not into defs)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from _flat(stmt.body)
            yield from _flat(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from _flat(stmt.body)
            for handler in stmt.handlers:
                yield from _flat(handler.body)
            yield from _flat(stmt.orelse)
            yield from _flat(stmt.finalbody)
        elif isinstance(stmt, ast.With):
            yield from _flat(stmt.body)
        else:
            yield stmt


def _assigned_names(stmt: ast.stmt) -> list[tuple[str, ast.expr | None]]:
    if isinstance(stmt, ast.Assign):
        result = []
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                result.append((target.id, stmt.value))
            elif isinstance(target, ast.Tuple | ast.List):
                result.extend((e.id, None) for e in target.elts if isinstance(e, ast.Name))
        return result
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [(stmt.target.id, stmt.value)]
    return []


def scan_python3(name: str, source: str, package: str, is_package: bool) -> ModuleInfo:
    tree = ast.parse(source)
    module = ModuleInfo(name, is_package=is_package)
    for stmt in _flat(tree.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[stmt.name] = _signature_from_ast(stmt.args, module)
        elif isinstance(stmt, ast.ClassDef):
            module.classes[stmt.name] = _class_from_ast(stmt, module)
        elif isinstance(stmt, ast.ImportFrom):
            _record_import(
                module,
                stmt.module,
                stmt.level,
                [(a.name, a.asname or a.name) for a in stmt.names],
                package,
            )
        else:
            for target, value in _assigned_names(stmt):
                module.constants[target] = (
                    _Expression(ast.unparse(value)) if value is not None else UNKNOWN
                )
    return module


def _class_from_ast(node: ast.ClassDef, module: ModuleInfo) -> ClassInfo:
    info = ClassInfo(node.name, [ast.unparse(b) for b in node.bases])
    methods: dict[str, Signature] = {}
    for stmt in _flat(node.body):
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            kind = _decorator_kind(stmt.decorator_list)
            sig = _signature_from_ast(stmt.args, module)
            methods[stmt.name] = sig
            info.members[stmt.name] = Member(kind, None if kind == "property" else sig)
            if stmt.name == "__init__":
                for sub in ast.walk(stmt):
                    targets = (
                        sub.targets
                        if isinstance(sub, ast.Assign)
                        else (
                            [sub.target] if isinstance(sub, ast.AnnAssign | ast.AugAssign) else []
                        )
                    )
                    for t in targets:
                        if (
                            isinstance(t, ast.Attribute)
                            and isinstance(t.value, ast.Name)
                            and t.value.id == "self"
                        ):
                            info.instance_attributes.add(t.attr)
        else:
            for target, value in _assigned_names(stmt):
                if isinstance(value, ast.Name) and value.id in methods:
                    info.members[target] = Member("method", methods[value.id])
                else:
                    info.members.setdefault(target, Member("attribute"))
    return info


def _record_import(
    module: ModuleInfo, source: str | None, level: int, names: list[tuple[str, str]], package: str
) -> None:
    relative = _relative(source, level, module.name, package, module.is_package)
    if relative is None:
        return
    for original, bound in names:
        module.imports[bound] = (relative, original)


# --- Python 2 sources: tokenize ---------------------------------------------------------


@dataclass
class _Line:
    depth: int
    tokens: list[tokenize.TokenInfo]

    @property
    def words(self) -> list[str]:
        return [t.string for t in self.tokens]


def _logical_lines(source: str) -> Iterator[_Line]:
    depth = 0
    current: list[tokenize.TokenInfo] = []
    line_depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.INDENT:
            depth += 1
            continue
        if tok.type == tokenize.DEDENT:
            depth -= 1
            continue
        if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING):
            continue
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if current:
                yield _Line(line_depth, current)
            current = []
            continue
        if not current:
            line_depth = depth
        current.append(tok)


def _split_top_level(tokens: list[tokenize.TokenInfo], separator: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    nesting = 0
    for tok in tokens:
        s = tok.string
        if s in "([{" and tok.type == tokenize.OP:
            nesting += 1
        elif s in ")]}" and tok.type == tokenize.OP:
            nesting -= 1
        if s == separator and nesting == 0 and tok.type == tokenize.OP:
            parts.append([])
        else:
            parts[-1].append(s)
    return [p for p in parts if p]


def _parens(tokens: list[tokenize.TokenInfo], start: int) -> tuple[list[tokenize.TokenInfo], int]:
    """Tokens inside the bracket pair opening at ``start``, and the index after it."""
    nesting = 0
    for i in range(start, len(tokens)):
        s = tokens[i].string
        if tokens[i].type == tokenize.OP and s in "([{":
            nesting += 1
        elif tokens[i].type == tokenize.OP and s in ")]}":
            nesting -= 1
            if nesting == 0:
                return tokens[start + 1 : i], i + 1
    raise ValueError("unbalanced brackets")


def _signature_from_tokens(tokens: list[tokenize.TokenInfo]) -> Signature:
    params: list[Param] = []
    keyword_only = False
    for part in _split_top_level(tokens, ","):
        if part[0] == "**":
            params.append(Param(part[1], VAR_KEYWORD))
        elif part[0] == "*":
            if len(part) == 1:
                keyword_only = True
            else:
                params.append(Param(part[1], VAR_POSITIONAL))
                keyword_only = True
        elif part[0] == "(":
            params.append(Param(None, POSITIONAL))
        else:
            kind = KEYWORD_ONLY if keyword_only else POSITIONAL
            if "=" in part:
                text = " ".join(part[part.index("=") + 1 :])
                params.append(Param(part[0], kind, _Expression(text), text))
            else:
                params.append(Param(part[0], kind))
    return Signature(tuple(params))


_BLOCK_WORDS = frozenset({"if", "elif", "else", "try", "except", "finally", "with", "for", "while"})


def scan_python2(name: str, source: str, package: str, is_package: bool) -> ModuleInfo:
    module = ModuleInfo(name, is_package=is_package)
    # The open blocks: (depth of the header line, kind, object) with kind def/class/block.
    stack: list[tuple[int, str, Any]] = []
    decorators: list[str] = []
    for line in _logical_lines(source):
        while stack and stack[-1][0] >= line.depth:
            stack.pop()
        words = line.words
        owners = [entry for entry in stack if entry[1] != "block"]
        owner = owners[-1] if owners else None
        opens_block = words[-1] == ":"
        if words[0] == "@":
            decorators.append(words[1])
            continue
        if words[0] in ("def", "class"):
            func_name = words[1]
            if words[0] == "def":
                args, _ = _parens(line.tokens, 2)
                sig = _signature_from_tokens(args)
                if owner is None:
                    module.functions[func_name] = sig
                elif owner[1] == "class":
                    kind = (
                        decorators[0]
                        if decorators
                        and decorators[0] in ("staticmethod", "classmethod", "property")
                        else "method"
                    )
                    owner[2].members[func_name] = Member(kind, None if kind == "property" else sig)
                if opens_block:
                    stack.append((line.depth, "def", (owner, func_name)))
            else:
                bases: list[str] = []
                if len(words) > 2 and words[2] == "(":
                    inner, _ = _parens(line.tokens, 2)
                    bases = ["".join(p) for p in _split_top_level(inner, ",")]
                info = ClassInfo(func_name, bases)
                if owner is None:
                    module.classes[func_name] = info
                if opens_block:
                    stack.append((line.depth, "class", info))
            decorators = []
            continue
        decorators = []
        if words[0] in _BLOCK_WORDS:
            if opens_block:
                stack.append((line.depth, "block", None))
            continue
        if owner is not None and owner[1] == "def":
            parent, func_name = owner[2]
            if (
                func_name == "__init__"
                and parent is not None
                and parent[1] == "class"
                and len(words) > 3
                and words[0] == "self"
                and words[1] == "."
                and words[3] == "="
            ):
                parent[2].instance_attributes.add(words[2])
            continue
        if words[0] == "from" and owner is None:
            _python2_import(module, line, package)
            continue
        targets = _assignment_targets(words)
        if targets is None:
            continue
        value_text = " ".join(words[words.index("=") + 1 :])
        if owner is None:
            for target in targets:
                module.constants[target] = _Expression(value_text)
        elif owner[1] == "class":
            info = owner[2]
            for target in targets:
                existing = info.members.get(value_text)
                if existing is not None and existing.kind == "method":
                    info.members[target] = Member("method", existing.signature)
                else:
                    info.members.setdefault(target, Member("attribute"))
    return module


def _assignment_targets(words: list[str]) -> list[str] | None:
    """``a = ...`` or ``a, b = ...``: the names; None for anything else."""
    if "=" not in words:
        return None
    head = words[: words.index("=")]
    names = [w for w in head if w != ","]
    if not names or not all(n.isidentifier() for n in names):
        return None
    if any(h != "," for h in head[1::2]) and len(head) > 1:
        return None
    return names


def _python2_import(module: ModuleInfo, line: _Line, package: str) -> None:
    words = line.words
    i = 1
    level = 0
    while words[i] == ".":
        level += 1
        i += 1
    source_parts: list[str] = []
    while words[i] != "import":
        source_parts.append(words[i])
        i += 1
    names_tokens = [w for w in words[i + 1 :] if w not in "()"]
    names: list[tuple[str, str]] = []
    for part in " ".join(names_tokens).split(","):
        bits = part.split()
        if not bits:
            continue
        names.append((bits[0], bits[2] if len(bits) == 3 and bits[1] == "as" else bits[0]))
    # Python 2 implicit relative imports do not occur in 0.7.9 (it imports absolutely).
    _record_import(module, "".join(source_parts) or None, level, names, package)


# --- resolving re-exports and inheritance --------------------------------------------------


@dataclass
class Expected:
    """One name the references promise, in one module."""

    module: str
    qualname: str  # "name" or "Class.member"
    kind: str  # module, function, class, method, staticmethod, classmethod, property,
    # attribute, constant, instance attribute, base
    signature: Signature | None = None
    value: object = UNKNOWN
    base: str | None = None  # for kind "base": "module:Class" the class must derive from
    sources: set[str] = field(default_factory=set)


def _is_public_module(name: str) -> bool:
    parts = name.split(".") if name else []
    return not any(p.startswith("_") for p in parts) and not any(
        p in EXCLUDED_MODULES for p in parts
    )


def _find_definition(
    modules: dict[str, ModuleInfo],
    module_name: str,
    name: str,
    seen: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[str, str, str] | None:
    """Follow re-exports: (module, name, kind) of where ``name`` is defined, or None."""
    if (module_name, name) in seen or module_name not in modules:
        return None
    module = modules[module_name]
    if name in module.classes:
        return module_name, name, "class"
    if name in module.functions:
        return module_name, name, "function"
    if name in module.constants:
        return module_name, name, "constant"
    if name in module.imports:
        source, original = module.imports[name]
        submodule = f"{source}.{original}" if source else original
        if submodule in modules:
            return submodule, "", "module"
        return _find_definition(modules, source, original, seen | {(module_name, name)})
    return None


def _class_mro(
    modules: dict[str, ModuleInfo],
    module_name: str,
    class_name: str,
) -> list[tuple[str, ClassInfo]]:
    """The reference's own classes among a class and its bases, most derived first."""
    result: list[tuple[str, ClassInfo]] = []
    pending = [(module_name, class_name)]
    while pending:
        mod, cls_name = pending.pop(0)
        info = modules[mod].classes[cls_name]
        if any(info is seen for _, seen in result):
            continue
        result.append((mod, info))
        for base in info.bases:
            target = _resolve_base(modules, mod, base)
            if target is not None:
                pending.append(target)
    return result


def _resolve_base(
    modules: dict[str, ModuleInfo],
    module_name: str,
    base: str,
) -> tuple[str, str] | None:
    if "." in base:
        owner, _, attr = base.rpartition(".")
        module = modules[module_name]
        if owner in module.imports:
            source, original = module.imports[owner]
            owner_module = f"{source}.{original}" if source else original
        else:
            owner_module = owner
        found = _find_definition(modules, owner_module, attr)
    else:
        found = _find_definition(modules, module_name, base)
    if found is None or found[2] != "class":
        return None
    return found[0], found[1]


def expected_names(reference: Reference) -> list[Expected]:
    """Every name of ``reference`` that a handler or harness may use."""
    modules = reference.modules
    _resolve_constants(modules)
    source = f"{reference.package} {reference.version}"
    result: list[Expected] = []
    for module_name in sorted(modules):
        if not _is_public_module(module_name):
            continue
        result.append(Expected(module_name, "", "module", sources={source}))
        module = modules[module_name]
        allowed_private = PRIVATE_MODULE_NAMES.get(module_name, frozenset())
        names = (
            set(module.functions)
            | set(module.classes)
            | set(module.constants)
            | set(module.imports)
        )
        for name in sorted(names):
            if (
                name.startswith("_")
                and name not in allowed_private
                or ((module_name, name) in EXCLUDED_NAMES)
            ):
                continue
            found = _find_definition(modules, module_name, name)
            if found is None or found[2] == "module":
                continue
            where, original, kind = found
            definer = modules[where]
            if kind == "function":
                sig = _resolve_signature(definer.functions[original], definer, modules)
                result.append(Expected(module_name, name, "function", sig, sources={source}))
            elif kind == "constant":
                result.append(
                    Expected(
                        module_name,
                        name,
                        "constant",
                        value=definer.constants[original],
                        sources={source},
                    )
                )
            else:
                result.extend(
                    _class_expectations(modules, module_name, name, where, original, source)
                )
    return result


def _class_expectations(
    modules: dict[str, ModuleInfo],
    module_name: str,
    name: str,
    where: str,
    original: str,
    source: str,
) -> list[Expected]:
    mro = _class_mro(modules, where, original)
    init = None
    members: dict[str, Member] = {}
    instance_attributes: set[str] = set()
    allowed: set[str] = set()
    for mod, info in mro:
        allowed |= PRIVATE_CLASS_NAMES.get((mod, info.name), frozenset())
    for mod, info in reversed(mro):
        for member_name, member in info.members.items():
            if member.signature is not None:
                member = Member(
                    member.kind, _resolve_signature(member.signature, modules[mod], modules)
                )
            members[member_name] = member
        instance_attributes |= info.instance_attributes
    init_member = members.get("__init__")
    if init_member is not None and init_member.signature is not None:
        init = init_member.signature.without_first()
    result = [Expected(module_name, name, "class", init, sources={source})]
    for base_module, base in mro[1:]:
        result.append(
            Expected(module_name, name, "base", base=f"{base_module}:{base.name}", sources={source})
        )
    for member_name in sorted(members):
        if member_name.startswith("_") and member_name not in allowed:
            continue
        member = members[member_name]
        result.append(
            Expected(
                module_name,
                f"{name}.{member_name}",
                member.kind,
                member.signature,
                sources={source},
            )
        )
    for attr in sorted(instance_attributes - set(members)):
        if attr.startswith("_") and attr not in allowed:
            continue
        result.append(
            Expected(module_name, f"{name}.{attr}", "instance attribute", sources={source})
        )
    return result


def all_expected(references: list[Reference]) -> list[Expected]:
    """The names of every reference, each (module, qualname, kind) once with its sources."""
    merged: dict[tuple[str, str, str, str | None], list[Expected]] = {}
    for reference in references:
        for item in expected_names(reference):
            merged.setdefault((item.module, item.qualname, item.kind, item.base), []).append(item)
    result = []
    for items in merged.values():
        # Different signatures of the same name are each checked.
        distinct: list[Expected] = []
        for item in items:
            for d in distinct:
                if d.signature == item.signature and _same_value(d.value, item.value):
                    d.sources |= item.sources
                    break
            else:
                distinct.append(item)
        result.extend(distinct)
    return result


def _same_value(a: object, b: object) -> bool:
    if a is UNKNOWN or b is UNKNOWN:
        return a is b
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


# --- checking our package ------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    module: str  # relative: "util", "handshake.base", "" for the package
    import_name: str  # "mod_pywebsocket" or "pywebsocket3"
    item: Expected
    message: str

    def accepted(self) -> str | None:
        """Why this difference is kept on purpose (ACCEPTED_DIFFERENCES), or None."""
        for source in sorted(self.item.sources):
            reason = ACCEPTED_DIFFERENCES.get((self.module, self.item.qualname, source))
            if reason is not None and len(self.item.sources) == 1:
                return reason
        return None


def _import(name: str) -> tuple[Any, str | None]:
    """The module, or None and why; modules that need mod_python get a stand-in for it."""
    try:
        return importlib.import_module(name), None
    except ModuleNotFoundError as exc:
        if exc.name != "mod_python":
            return None, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # an import error is a finding, not a crash of the check
        return None, f"{type(exc).__name__}: {exc}"
    return _import_with_mod_python_stub(name)


def _import_with_mod_python_stub(name: str) -> tuple[Any, str | None]:
    """Import a module written for Apache with a stand-in ``mod_python`` outside it.

    The stand-in answers 0 for any ``apache.X``; the module is taken out of
    ``sys.modules`` again so nothing else sees it built over the stand-in.
    """
    import types

    saved = dict(sys.modules)
    # Such a module may set up logging for Apache at import; that is undone as well.
    package_logger = logging.getLogger(IMPORT_NAMES[0])
    saved_logger = (list(package_logger.handlers), package_logger.level, package_logger.propagate)
    stub = types.ModuleType("mod_python")
    apache = types.ModuleType("mod_python.apache")
    apache.__getattr__ = lambda attr: 0  # type: ignore[method-assign]
    stub.apache = apache  # type: ignore[attr-defined]
    sys.modules["mod_python"] = stub
    sys.modules["mod_python.apache"] = apache
    try:
        return importlib.import_module(name), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc} (with a stand-in mod_python)"
    finally:
        for key in set(sys.modules) - set(saved):
            parent, _, child = key.rpartition(".")
            if (
                parent in sys.modules
                and getattr(sys.modules[parent], child, None) is (sys.modules[key])
            ):
                delattr(sys.modules[parent], child)
            del sys.modules[key]
        package_logger.handlers[:] = saved_logger[0]
        package_logger.setLevel(saved_logger[1])
        package_logger.propagate = saved_logger[2]


def check(expected: list[Expected]) -> list[Problem]:
    """Every expected name under both import names; a Problem for each that fails.

    Accepted differences are among them (``Problem.accepted``); ``failures``
    leaves them out.
    """
    problems: list[Problem] = []
    modules: dict[str, tuple[Any, str | None]] = {}
    for item in expected:
        for import_name in IMPORT_NAMES:
            full = f"{import_name}.{item.module}" if item.module else import_name
            if full not in modules:
                modules[full] = _import(full)
            module, error = modules[full]
            if module is None:
                if item.kind == "base":
                    continue  # the class is listed as missing
                reason = (error or "").replace(full, "<module>")
                message = f"module missing ({reason})" if item.kind == "module" else "missing"
                problems.append(Problem(item.module, import_name, item, message))
                continue
            message = _check_item(module, item)
            if message is not None:
                problems.append(Problem(item.module, import_name, item, message))
    return problems


def _check_item(module: Any, item: Expected) -> str | None:
    if item.kind == "module":
        return None
    first, _, member = item.qualname.partition(".")
    if not hasattr(module, first):
        if item.kind == "base":
            return None  # the class itself is reported
        return f"missing {item.kind}" if not member else "missing"
    obj = getattr(module, first)
    if item.kind == "class":
        if not inspect.isclass(obj):
            return f"is a {type(obj).__name__}, not a class"
        return _compare_callable(obj, item.signature)
    if item.kind == "function":
        if not callable(obj):
            return f"is a {type(obj).__name__}, not callable"
        return _compare_callable(obj, item.signature)
    if item.kind == "constant":
        return _compare_value(obj, item.value)
    if not inspect.isclass(obj):
        return None  # reported on the class itself
    if item.kind == "base":
        assert item.base is not None
        base_module, _, base_name = item.base.partition(":")
        # The base under the same module (a re-export, as handlers see it), else in its
        # own module when that is public; a base only a private module had is not checked.
        base = getattr(module, base_name, None)
        if base is None and _is_public_module(base_module):
            home = _import(f"{IMPORT_NAMES[0]}.{base_module}" if base_module else IMPORT_NAMES[0])[
                0
            ]
            base = getattr(home, base_name, None)
            if base is None:
                return f"cannot check base {base_module}.{base_name}: it is missing here"
        if base is None:
            return None
        if not (inspect.isclass(base) and issubclass(obj, base)):
            return f"does not derive from {base_name} ({base_module or 'package'})"
        return None
    if item.kind == "instance attribute":
        return None if _has_instance_attribute(obj, member) else "missing instance attribute"
    try:
        static = inspect.getattr_static(obj, member)
    except AttributeError:
        return f"missing {item.kind}"
    if item.kind in ("property", "attribute"):
        return None
    if isinstance(static, property) or not callable(getattr(obj, member, None)):
        return f"is a {type(static).__name__} here, the reference calls it"
    if item.signature is None:
        return None
    reference_sig = item.signature
    ours = getattr(obj, member)
    if item.kind == "classmethod":
        reference_sig = reference_sig.without_first()
    ours_is_bound = isinstance(static, staticmethod | classmethod)
    if ours_is_bound and item.kind == "method":
        reference_sig = reference_sig.without_first()
    elif not ours_is_bound and item.kind in ("staticmethod", "classmethod"):
        return f"is an instance method here, the reference's is a {item.kind}"
    return _compare_callable(ours, reference_sig)


def _has_instance_attribute(cls: type, name: str) -> bool:
    """A class attribute, a slot, a dataclass field, or ``self.name = `` in a method."""
    for klass in cls.__mro__:
        if name in vars(klass) or name in getattr(klass, "__slots__", ()):
            return True
        if name in getattr(klass, "__dataclass_fields__", {}):
            return True
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            for t in targets:
                if (
                    isinstance(t, ast.Attribute)
                    and t.attr == name
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                ):
                    return True
    return False


def _same_literal(ours: object, reference: object) -> bool:
    """Equal values; str and bytes of the same text are equal (Python 2's str is bytes)."""
    if reference is None or isinstance(reference, bool):
        return ours is reference
    if isinstance(reference, str | bytes) and isinstance(ours, str | bytes):

        def text(v: str | bytes) -> str:
            return v.decode("latin-1") if isinstance(v, bytes) else v

        return text(ours) == text(reference)
    if isinstance(ours, bool):
        return False
    try:
        return type(ours) is type(reference) and bool(ours == reference)
    except Exception:
        return False


def _compare_value(ours: object, reference: object) -> str | None:
    if reference is UNKNOWN or not isinstance(reference, int | float | str | bytes | tuple):
        return None
    if _same_literal(ours, reference):
        return None
    return f"value {ours!r} here, {reference!r} in the reference"


def _ours_signature(obj: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _compare_callable(obj: Any, reference: Signature | None) -> str | None:
    if reference is None:
        return None
    ours = _ours_signature(obj)
    if ours is None:
        return None
    problems = compare_signatures(reference, ours)
    if problems:
        return f"signature {_ours_text(ours)} here, {reference.text()} in the reference: " + (
            "; ".join(problems)
        )
    return None


def _ours_text(sig: inspect.Signature) -> str:
    return str(
        sig.replace(
            return_annotation=inspect.Signature.empty,
            parameters=[
                p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()
            ],
        )
    )


def compare_signatures(reference: Signature, ours: inspect.Signature) -> list[str]:
    """Why a call the reference accepts might fail here (empty when compatible).

    Every positional parameter of the reference is accepted here at the same
    position; every parameter a caller may name is accepted here under that
    name; defaults match where both can be evaluated; a parameter that has a
    default there has one here; anything extra here has a default.
    """
    P = inspect.Parameter
    problems: list[str] = []
    params = list(ours.parameters.values())
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    var_positional = any(p.kind == P.VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind == P.VAR_KEYWORD for p in params)
    keywords = {p.name: p for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    ref_positional = [p for p in reference.params if p.kind in (POSITIONAL, POSITIONAL_ONLY)]
    used: set[str] = set()
    for i, ref in enumerate(ref_positional):
        if i < len(positional):
            here = positional[i]
            used.add(here.name)
            if ref.default is not NO_DEFAULT and here.default is P.empty:
                problems.append(
                    f"'{here.name}' (position {i}) needs a default ({ref.default_text} there)"
                )
            if (
                ref.name is not None
                and ref.kind == POSITIONAL
                and here.name != ref.name
                and (ref.name not in keywords and not var_keyword)
            ):
                problems.append(f"no keyword '{ref.name}' (position {i} is '{here.name}')")
            problems.extend(_default_problem(ref, here))
        elif not var_positional:
            problems.append(f"position {i} ('{ref.name}') is not accepted")
        elif (
            ref.name is not None
            and ref.kind == POSITIONAL
            and ref.name not in keywords
            and (not var_keyword)
        ):
            problems.append(f"no keyword '{ref.name}'")
    for ref in reference.params:
        if ref.kind == KEYWORD_ONLY:
            here = keywords.get(ref.name or "")
            if here is None:
                if not var_keyword:
                    problems.append(f"no keyword '{ref.name}'")
                continue
            used.add(here.name)
            if ref.default is not NO_DEFAULT and here.default is P.empty:
                problems.append(f"'{here.name}' needs a default ({ref.default_text} there)")
            problems.extend(_default_problem(ref, here))
        elif ref.kind == VAR_POSITIONAL and not var_positional:
            problems.append(f"*{ref.name} is not accepted")
        elif ref.kind == VAR_KEYWORD and not var_keyword:
            problems.append(f"**{ref.name} is not accepted")
    for i, here in enumerate(positional):
        if i >= len(ref_positional) and here.default is P.empty:
            problems.append(f"extra parameter '{here.name}' has no default")
    for here in params:
        if here.kind == P.KEYWORD_ONLY and here.default is P.empty and here.name not in used:
            problems.append(f"extra keyword-only parameter '{here.name}' has no default")
    return problems


def _default_problem(ref: Param, here: inspect.Parameter) -> list[str]:
    value = ref.default
    if (
        value is NO_DEFAULT
        or value is UNKNOWN
        or isinstance(value, _Expression)
        or (here.default is inspect.Parameter.empty)
    ):
        return []
    if isinstance(value, list | dict | set):
        # A mutable default ([] for frame_filters): None or an empty container here is the
        # same to a caller, who never passes the default itself.
        if here.default is None or (
            not here.default and isinstance(here.default, list | dict | set | tuple | frozenset)
        ):
            return []
    elif _same_literal(here.default, value):
        return []
    return [f"default of '{here.name}' is {here.default!r} here, {ref.default_text} there"]


def failures(problems: list[Problem]) -> list[Problem]:
    """The problems that are not accepted differences."""
    return [p for p in problems if p.accepted() is None]


# --- the report ----------------------------------------------------------------------------


def _describe(item: Expected) -> str:
    sig = item.signature.text() if item.signature is not None else ""
    return f"{item.kind} {item.qualname}{sig}"


def report(problems: list[Problem]) -> str:
    """The problems grouped by module, both import names folded together: a to-do list.

    A missing name shows the reference's signature; a missing class lists its
    members on one line. Accepted differences come last, with their reasons.
    """
    accepted = [p for p in problems if p.accepted() is not None]
    problems = failures(problems)
    folded: dict[str, dict[tuple[str, str, str], tuple[Problem, set[str]]]] = {}
    for p in problems:
        key = (p.item.qualname, p.item.kind, p.message)
        group = folded.setdefault(p.module, {})
        if key in group:
            group[key][1].add(p.import_name)
        else:
            group[key] = (p, {p.import_name})
    lines = [
        f"{len(problems)} missing names or mismatches (each import name counted) in "
        f"{len(folded)} modules"
        if problems
        else "no missing names or mismatches"
    ]
    for module in sorted(folded):
        lines.append(f"\n{module or '(package)'}:")
        entries = list(folded[module].values())
        missing_classes = {
            (p.item.qualname, n)
            for p, names in entries
            for n in names
            if p.item.kind == "class" and p.message.startswith("missing")
        }
        members: dict[tuple[str, frozenset[str]], list[str]] = {}
        for p, names in entries:
            owner, dot, member = p.item.qualname.partition(".")
            if dot and p.message == "missing" and all((owner, n) in missing_classes for n in names):
                members.setdefault((owner, frozenset(names)), []).append(member)
        for p, names in entries:
            owner, dot, _ = p.item.qualname.partition(".")
            if dot and (owner, frozenset(names)) in members and p.message == "missing":
                continue
            only = ""
            if names != set(IMPORT_NAMES):
                where = "/".join(sorted(names)) + (f".{module}" if module else "")
                only = f" (only as {where})"
            sources = ", ".join(sorted(p.item.sources))
            if p.item.kind == "module":
                lines.append(f"  {p.message}{only}  [{sources}]")
                continue
            text = _describe(p.item) if p.message.startswith("missing") else p.item.qualname
            lines.append(f"  {text}: {p.message}{only}  [{sources}]")
            listed = members.get((p.item.qualname, frozenset(names)))
            if listed:
                lines.append(f"      members: {', '.join(listed)}")
    if accepted:
        lines.append("\naccepted differences:")
        seen: set[tuple[str, str]] = set()
        for p in accepted:
            if (p.module, p.item.qualname) not in seen:
                seen.add((p.module, p.item.qualname))
                lines.append(
                    f"  {p.module}.{p.item.qualname}: {p.message}\n"
                    f"      kept because {p.accepted()}"
                )
    return "\n".join(lines)


def run() -> tuple[list[Expected], list[Problem]]:
    """Read the references, check our package; both lists."""
    expected = all_expected(load_references())
    return expected, check(expected)
