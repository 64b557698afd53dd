"""`make bench`: load the token service with wrk and compare it with its ceilings and the
targets of issue 7. Run as `python -m bench [--quick]`; see bench/__main__.py."""
