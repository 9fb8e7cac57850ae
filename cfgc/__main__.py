"""``python -m cfgc`` runs the command line."""

from cfgc.cli.main import main

main()
