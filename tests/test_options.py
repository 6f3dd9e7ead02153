"""options.py: the on/off words (one list, for the config file and Apache's PythonOption)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mod_pywebsocket.options import OFF_WORDS, ON_WORDS, ServerOptions, switch_value


@pytest.mark.parametrize("word", ["on", "On", " TRUE ", "yes", "1"])
def test_on_words(word: str) -> None:
    assert switch_value(word) is True


@pytest.mark.parametrize("word", ["off", "Off", "false", "NO", "0 "])
def test_off_words(word: str) -> None:
    assert switch_value(word) is False


@pytest.mark.parametrize("word", ["", "maybe", "2", "enabled"])
def test_other_words_are_neither(word: str) -> None:
    assert switch_value(word) is None
    assert not ON_WORDS & OFF_WORDS


def test_config_file_switches_take_the_on_words(tmp_path: Path) -> None:
    """A --config file's boolean key is on for an on word; any other value leaves it off."""
    for value, expected in [("Yes", True), ("on", True), ("off", False), ("maybe", False)]:
        config = tmp_path / "c.ini"
        config.write_text(f"[pywebsocket]\nallow-hybi00 = {value}\n", encoding="utf-8")
        options = ServerOptions.from_args(["--config", str(config)])
        assert options.allow_hybi00 is expected, value


def test_the_command_line_takes_every_default_from_server_options() -> None:
    """ServerOptions is the one home of each default: no flag gives its own."""
    import argparse
    import dataclasses

    from mod_pywebsocket.standalone import build_option_parser

    fields = {f.name: f.default for f in dataclasses.fields(ServerOptions)}
    own = [
        f"{a.option_strings}: {a.default!r} (ServerOptions: {fields[a.dest]!r})"
        for a in build_option_parser()._actions
        if a.dest in fields and a.default is not argparse.SUPPRESS and a.default != fields[a.dest]
    ]
    assert not own, "flags with a default of their own:\n" + "\n".join(own)
    assert ServerOptions.from_args([]) == ServerOptions()


def test_from_namespace_takes_a_server_options_as_it_is() -> None:
    """Callers hand either a parsed namespace or a ServerOptions; no isinstance at each."""
    options = ServerOptions(port=0)
    assert ServerOptions.from_namespace(options) is options
