"""`python -m newsflow_cli`: the same as the `newsflow` command."""

from newsflow_cli.app import main

main()
