"""The command line: a thin layer of click commands over the library core.

May import: anything; nothing imports it.  The only package that imports click.
"""
