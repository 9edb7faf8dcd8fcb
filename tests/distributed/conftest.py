"""tests/distributed: the scripts under scripts/ run under mpiexec, never inside pytest."""

collect_ignore = ["scripts"]
