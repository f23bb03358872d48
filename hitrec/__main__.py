"""`python -m hitrec`: the same entry point as the `hitrec` console script."""

try:
    from hitrec.cli import main
except KeyboardInterrupt:  # Ctrl-C while the entry point itself loads, before main() handles it: the same
    import os  # one line and exit code main() gives, not a traceback through this file
    import sys

    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    os._exit(130)

main()
