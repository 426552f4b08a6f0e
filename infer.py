"""Command-line inference: ``python infer.py encode|decode|roundtrip|stream|info|... ...``.

Thin wrapper over :func:`codec.cli.main` (also installed as the ``codec`` command).
"""

from codec.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
