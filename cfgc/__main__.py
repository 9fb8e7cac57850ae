"""``python -m cfgc`` runs the command line."""

from cfgc.cli.entry import main

main()
