"""Serving: batch scoring of new mail into a triage queue, review routing, follow-up linking and the
answer deadlines of the service levels."""
