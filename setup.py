"""Build the optional C speedups; all metadata lives in pyproject.toml.

``optional=True``: without a compiler the package installs anyway and uses
its pure-Python fallback (mod_pywebsocket.protocol.masking).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mod_pywebsocket.protocol._speedups",
            ["src/mod_pywebsocket/protocol/_speedups.c"],
            optional=True,
        )
    ]
)
