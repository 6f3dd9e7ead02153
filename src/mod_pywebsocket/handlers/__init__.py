"""Finding and loading ``*_wsh.py`` handler files, and the request object handlers see."""
