"""Real servers for tests and for `lookout demo` (one set of servers, not two)."""
