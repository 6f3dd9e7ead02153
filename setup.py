"""Build steps pyproject.toml cannot declare; all metadata lives there.

* The optional C speedups (``optional=True``: without a compiler the package
  installs anyway and uses its pure-Python fallback, protocol/masking.py).
* ``mod_pywebsocket-pywebsocket3.pth``, copied to the top of the wheel: it
  provides the ``pywebsocket3`` import name as an alias when no other
  distribution does (see src/_mod_pywebsocket_alias.py).
"""

import os
import shutil

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

PTH = "mod_pywebsocket-pywebsocket3.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            shutil.copyfile(os.path.join("src", PTH), os.path.join(self.build_lib, PTH))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not self.editable_mode:
            outputs.append(os.path.join(self.build_lib, PTH))
        return outputs


setup(
    cmdclass={"build_py": BuildPyWithPth},
    ext_modules=[
        Extension(
            "mod_pywebsocket.protocol._speedups",
            ["src/mod_pywebsocket/protocol/_speedups.c"],
            optional=True,
        )
    ],
)
