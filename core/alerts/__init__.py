"""Alerts: rules turn the engine's events into incidents; channels tell people, once per incident.

The shape (see docs/architecture.md):

    engine events ──► evaluator (a recorder: rules, incidents, flap damping,
                      inhibition through depends_on, silences, maintenance)
                          │ Notification records
                          ▼
                      outbox (durable, in the history file)
                          │
                          ▼
                      dispatcher ──► channels (apprise, webhook, alertmanager, command),
                                     each behind its own breaker, retry and timeout

Only the process that records a history file evaluates alerts for it, so two
processes never alert twice for one fleet. The contract between the two halves
is `core.alerts.notification`: the evaluator only produces `Notification`
records into a `NotificationSink`; the dispatcher only delivers them.
"""
