"""Print what this checkout lacks of pywebsocket3 4.0.2's and mod_pywebsocket 0.7.9's surface.

    python scripts/surface_report.py

The same check as tests/compat/test_surface.py, printed as a to-do list grouped
by module. The reference sdists come from $MOD_PYWEBSOCKET_REFERENCE_SDISTS
when set, else they are downloaded once into ~/.cache/mod_pywebsocket-ref.
Exits 1 when anything is missing or mismatched.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.compat import surface  # noqa: E402  (needs the checkout on sys.path)


def main() -> int:
    expected, problems = surface.run()
    print(
        f"{len(expected)} names of the references checked under "
        f"{' and '.join(surface.IMPORT_NAMES)}"
    )
    print(surface.report(problems))
    return 1 if surface.failures(problems) else 0


if __name__ == "__main__":
    sys.exit(main())
