# The programs are scripts run in subprocesses, not modules to import (doctest collection would run them).
collect_ignore_glob = ["programs/*.py"]
