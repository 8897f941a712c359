"""Notification channels: one module per channel type, plus their settings (`settings`)."""
