"""The two import names share one implementation, and coexist with the originals.

``pywebsocket3`` is an import-hook alias of ``mod_pywebsocket`` (no second
copy, no ``pywebsocket3`` directory installed), so installing or removing the
real pywebsocket3 distribution beside this one touches none of this
package's files: the last test builds the wheel and does exactly that in a
fresh virtual environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import mod_pywebsocket

ROOT = Path(__file__).resolve().parents[1]


def test_modules_are_the_same_objects() -> None:
    import mod_pywebsocket.handshake.base
    import mod_pywebsocket.msgutil
    import mod_pywebsocket.stream
    import pywebsocket3
    import pywebsocket3.handshake.base
    import pywebsocket3.msgutil
    from pywebsocket3 import stream

    assert pywebsocket3 is mod_pywebsocket
    assert pywebsocket3.msgutil is mod_pywebsocket.msgutil
    assert pywebsocket3.handshake.base is mod_pywebsocket.handshake.base
    assert stream is mod_pywebsocket.stream
    # The shared module keeps its own spec (runpy, pickling and reload read it).
    assert pywebsocket3.msgutil.__spec__.name == "mod_pywebsocket.msgutil"
    assert pywebsocket3.msgutil.BadOperationException is (
        mod_pywebsocket.msgutil.BadOperationException
    )


def test_no_other_pywebsocket3_is_shadowed_here() -> None:
    import _mod_pywebsocket_alias

    assert _mod_pywebsocket_alias.shadowed_distribution() is None


def _run(python: Path, code: str) -> str:
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _pip(python: Path, *args: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", "-q", *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr


def test_installed_beside_the_real_pywebsocket3(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _pip(Path(sys.executable), "wheel", "--no-deps", "-w", str(wheels), str(ROOT))
    [wheel] = wheels.glob("mod_pywebsocket-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _pip(python, "install", "--no-deps", str(wheel))
    site = Path(_run(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    ours = sorted(
        str(p.relative_to(site))
        for p in site.rglob("*")
        if "mod_pywebsocket" in str(p.relative_to(site)).split(os.sep)[0]
    )

    # From interpreter start, with nothing else installed, the name is ours.
    assert (
        _run(
            python, "import pywebsocket3.msgutil as a, mod_pywebsocket.msgutil as b; print(a is b)"
        )
        == "True"
    )
    assert not (site / "pywebsocket3").exists()

    # The real distribution installs into its own directory and wins elsewhere...
    _pip(python, "install", "pywebsocket3==4.0.2")
    real = _run(python, "import pywebsocket3, os; print(os.path.dirname(pywebsocket3.__file__))")
    assert Path(real) == site / "pywebsocket3"
    # ...while a process that runs this server gets this server's modules, and is told.
    assert (
        _run(
            python,
            "import mod_pywebsocket, _mod_pywebsocket_alias as a, "
            "pywebsocket3.msgutil as m; print(m.__name__, bool("
            "a.shadowed_distribution()))",
        )
        == "mod_pywebsocket.msgutil True"
    )

    # Removing it leaves every file of ours, and the alias back.
    _pip(python, "uninstall", "-y", "pywebsocket3")
    after = sorted(
        str(p.relative_to(site))
        for p in site.rglob("*")
        if "mod_pywebsocket" in str(p.relative_to(site)).split(os.sep)[0]
    )
    assert after == ours
    assert (
        _run(python, "import pywebsocket3.stream as a, mod_pywebsocket.stream as b; print(a is b)")
        == "True"
    )
    out = subprocess.run(
        [str(python), "-m", "pywebsocket3.standalone", "--no-such-flag"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "unrecognized arguments" in out.stderr


@pytest.mark.parametrize("name", ["mod_pywebsocket", "pywebsocket3"])
def test_python_m_standalone_help(name: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import mod_pywebsocket, runpy, sys; sys.argv = ['x', '--help']; "
            f"runpy.run_module('{name}.standalone', run_name='__main__')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "--websock-handlers" in out.stdout
    assert mod_pywebsocket.__name__ == "mod_pywebsocket"
