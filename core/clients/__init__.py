"""MCP client config files (Claude, Cursor, VS Code, Windsurf, Zed, Gemini CLI, Codex, Continue, Cline):
each read as its client reads it, found where each client keeps it, and linted.

core.clients.detect decides a file's format; core.clients.formats has one module per client;
core.clients.build turns files into a fleet; core.clients.locations and .discover find them.
"""
