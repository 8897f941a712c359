"""Probe implementations, one module per service kind."""
