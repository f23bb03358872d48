"""`python -m hitrec`: the same entry point as the `hitrec` console script."""

from hitrec.cli import main

main()
