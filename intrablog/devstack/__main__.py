"""`python -m intrablog.devstack`: the dev stack of `make run` (see launcher.py)."""

from intrablog.devstack.launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
