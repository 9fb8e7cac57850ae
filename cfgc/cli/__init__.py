"""The command line: a thin layer of click commands over the library core."""
