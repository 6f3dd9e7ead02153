import os

raise RuntimeError("broken at import")
