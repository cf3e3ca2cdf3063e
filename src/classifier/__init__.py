"""Triage of Japanese online-shop inquiries by topic and urgency."""

__version__ = "0.1.0"
