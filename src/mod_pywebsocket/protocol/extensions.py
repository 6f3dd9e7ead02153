"""Sec-WebSocket-Extensions: parsing offers and formatting responses (RFC 6455 9.1).

``ExtensionParameter`` keeps pywebsocket3's method names because handlers
read ``request.ws_requested_extensions`` and ``request.ws_extensions``, and
``ExtensionProcessorInterface`` is the base of what handlers find in
``request.ws_extension_processors`` (they subclass it, too).
"""

from __future__ import annotations

import re

from .errors import HandshakeException
from .tokens import TOKEN, is_token, quote_if_necessary

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_OWS = re.compile(r"[ \t]*")


class ExtensionParameter:
    """One extension offer or response: a name and ordered (name, value) parameters."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._parameters: list[tuple[str, str | None]] = []

    def name(self) -> str:
        return self._name

    def add_parameter(self, name: str, value: str | None) -> None:
        self._parameters.append((name, value))

    def get_parameters(self) -> list[tuple[str, str | None]]:
        return list(self._parameters)

    def get_parameter_names(self) -> list[str]:
        return [name for name, _ in self._parameters]

    def has_parameter(self, name: str) -> bool:
        return any(n == name for n, _ in self._parameters)

    def get_parameter_value(self, name: str) -> str | None:
        for n, value in self._parameters:
            if n == name:
                return value
        return None

    def __repr__(self) -> str:
        return f"ExtensionParameter({format_extension(self)!r})"


class ExtensionProcessorInterface:
    """An extension the server may accept for one offer (pywebsocket3's shape).

    ``get_extension_response`` answers the offer (None declines it and
    deactivates the processor); a handler may deactivate a processor before
    that, or drop it from ``request.ws_extension_processors``.
    """

    def __init__(self, request: ExtensionParameter) -> None:
        self._request = request
        self._active = True

    def request(self) -> ExtensionParameter:
        return self._request

    def name(self) -> str | None:
        return None

    def check_consistency_with_other_processors(self, processors: list[object]) -> None:
        """Deactivate processors that cannot coexist with this one (none by default)."""

    def set_active(self, active: bool) -> None:
        self._active = active

    def is_active(self) -> bool:
        return self._active

    def _get_extension_response_internal(self) -> ExtensionParameter | None:
        return None

    def get_extension_response(self) -> ExtensionParameter | None:
        if not self._active:
            return None
        response = self._get_extension_response_internal()
        if response is None:
            self._active = False
        return response

    def _setup_stream_options_internal(self, stream_options: object) -> None:
        pass

    def setup_stream_options(self, stream_options: object) -> None:
        if self._active:
            self._setup_stream_options_internal(stream_options)


def _bad(header: str, pos: int) -> HandshakeException:
    return HandshakeException(f"malformed Sec-WebSocket-Extensions at {pos}: {header[:200]!r}", 400)


def parse_extensions(header: str) -> list[ExtensionParameter]:
    """Parse a header value (several header lines joined with ', ') into offers."""
    result: list[ExtensionParameter] = []
    pos = 0
    end = len(header)

    def skip(p: int) -> int:
        m = _OWS.match(header, p)
        return m.end() if m else p

    while True:
        pos = skip(pos)
        if pos < end and header[pos] == ",":  # empty list elements are allowed
            pos += 1
            continue
        if pos >= end:
            break
        m = TOKEN.match(header, pos)
        if m is None:
            raise _bad(header, pos)
        extension = ExtensionParameter(m.group())
        pos = skip(m.end())
        while pos < end and header[pos] == ";":
            pos = skip(pos + 1)
            m = TOKEN.match(header, pos)
            if m is None:
                raise _bad(header, pos)
            name = m.group()
            value: str | None = None
            pos = skip(m.end())
            if pos < end and header[pos] == "=":
                pos = skip(pos + 1)
                token = TOKEN.match(header, pos)
                quoted = _QUOTED.match(header, pos)
                if token is not None:
                    value, pos = token.group(), token.end()
                elif quoted is not None:
                    # RFC 6455 9.1: a quoted value must be a token once unquoted.
                    value = re.sub(r"\\(.)", r"\1", quoted.group(1))
                    if not is_token(value):
                        raise _bad(header, pos)
                    pos = quoted.end()
                else:
                    raise _bad(header, pos)
                pos = skip(pos)
            extension.add_parameter(name, value)
        result.append(extension)
        if pos < end and header[pos] != ",":
            raise _bad(header, pos)
    return result


def format_extension(extension: ExtensionParameter) -> str:
    """``name; param; param=value``, each value quoted when it is not a token."""
    parts = [extension.name()]
    for name, value in extension.get_parameters():
        parts.append(name if value is None else f"{name}={quote_if_necessary(str(value))}")
    return "; ".join(parts)


def format_extensions(extension_list: list[ExtensionParameter]) -> str:
    """The offers or responses as one header value, separated by ``, ``
    (``extension_list``: pywebsocket3's ``common`` name, callers may pass it by keyword)."""
    return ", ".join(format_extension(e) for e in extension_list)
