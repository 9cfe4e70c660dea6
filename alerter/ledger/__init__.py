"""The alert ledger: what was decided, sent, failed and silenced, and the outbox to send from."""
