"""`lookout serve`: the engine run unattended, with an HTTP face.

One module per job: `metrics` (the Prometheus exposition, fed by a recorder of
the event stream and the snapshot), `api` (the status API and the event
stream as JSON), `auth` (who may ask), `app` (the Starlette routes), `logs`
(one line per engine event on stdout), `daemon` (the engine, the HTTP server
and the signals, in one event loop) and `command` (the command line).
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9807
"""`lookout serve` listens on 127.0.0.1:9807 unless told otherwise (README, "Run unattended")."""
