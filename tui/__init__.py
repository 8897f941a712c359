"""Lookout's terminal app and command line: clients of `core`, nothing more."""
