"""`python -m docc` is the `docc` command line."""

from docc.cli import main

main()
