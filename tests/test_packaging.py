"""Packaging: the version handlers and tools read, typing markers, what the sdist carries."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

import mod_pywebsocket
import pywebsocket3

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_installed_metadata_version() -> None:
    assert mod_pywebsocket.__version__ == metadata.version("mod_pywebsocket")
    assert mod_pywebsocket.__version__ != "0+unknown"


def test_the_package_is_marked_typed_under_both_names() -> None:
    assert (Path(mod_pywebsocket.__file__).parent / "py.typed").is_file()
    assert pywebsocket3 is mod_pywebsocket  # the second name is an alias, not a copy


def test_metadata_has_license_classifiers_and_no_placeholder_urls() -> None:
    meta = metadata.metadata("mod_pywebsocket")
    assert meta["License-Expression"] == "BSD-3-Clause"
    classifiers = meta.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in classifiers)
    urls = meta.get_all("Project-URL") or []
    assert urls
    for entry in urls:
        url = entry.split(",", 1)[1].strip()
        assert "example" not in url and "TODO" not in url, entry
        if not url.startswith("https://"):
            assert (ROOT / url).is_file(), f"{entry}: no such file in the repository"


def test_sdist_carries_tests_examples_docs_bench_and_scripts(tmp_path: Path) -> None:
    # --no-isolation: the test extra installs build and a new enough setuptools,
    # so this needs no download and takes a few seconds.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sdist,) = tmp_path.glob("mod_pywebsocket-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for required in (
        "LICENSE",
        "README.md",
        "CONTRIBUTING.md",
        "mkdocs.yml",
        ".ci/run",
        "docs/index.md",
        "docs/apache.md",
        "docs/changelog.md",
        "example/echo_wsh.py",
        "example/console.html",
        "tests/conftest.py",
        "tests/api/handlers",
        "tests/fuzz/corpus",
        "bench/run.py",
        "bench/loadgen.c",
        "bench/results/latest.md",
        "scripts/conformance.py",
        "src/mod_pywebsocket/py.typed",
        "src/_mod_pywebsocket_alias.py",
        "src/mod_pywebsocket-pywebsocket3.pth",
        "src/mod_pywebsocket/protocol/_speedups.c",
    ):
        assert any(n == required or n.startswith(required + "/") for n in names), required
    assert not any(n.endswith((".pyc", ".so")) or "/.venv" in n for n in names)
