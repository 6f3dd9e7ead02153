"""Every module and name of pywebsocket3 4.0.2 and mod_pywebsocket 0.7.9 exists here under both
import names, with a compatible signature (tests/compat/surface.py says how).

The reference sdists come from $MOD_PYWEBSOCKET_REFERENCE_SDISTS, else they are
downloaded once with pip into ~/.cache/mod_pywebsocket-ref; a failed download
fails this test. On failure the message is the whole to-do list, grouped by
module (scripts/surface_report.py prints the same).
"""

from __future__ import annotations

import pytest

from tests.compat import surface


@pytest.fixture(scope="module")
def checked() -> tuple[list[surface.Expected], list[surface.Problem]]:
    return surface.run()


def test_the_references_were_read(
    checked: tuple[list[surface.Expected], list[surface.Problem]],
) -> None:
    expected, _ = checked
    by_source = {
        source: {(e.module, e.qualname) for e in expected if source in e.sources}
        for source in ("pywebsocket3 4.0.2", "mod_pywebsocket 0.7.9")
    }
    # A scanner that read nothing would pass the check below: make sure it read both.
    assert len(by_source["pywebsocket3 4.0.2"]) > 300
    assert len(by_source["mod_pywebsocket 0.7.9"]) > 300
    in_both = {
        ("util", "_Inflater"),
        ("util", "hexify"),
        ("msgutil", "send_message"),
        ("stream", "Stream.receive_message"),
        ("common", "ExtensionParameter"),
    }
    assert in_both <= by_source["mod_pywebsocket 0.7.9"]
    assert (
        in_both
        | {
            ("util", "pack_byte"),
            ("stream", "Stream._receive_frame"),
            ("handshake.base", "HandshakerBase._validate_request"),
        }
        <= (by_source["pywebsocket3 4.0.2"])
    )


def test_every_name_exists_under_both_import_names(
    checked: tuple[list[surface.Expected], list[surface.Problem]],
) -> None:
    _, problems = checked
    if surface.failures(problems):
        pytest.fail(surface.report(problems), pytrace=False)
