"""Evaluation: metrics on held-out sets, the behaviour suite of the labeling rules, the reports."""
