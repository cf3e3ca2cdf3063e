"""Monitoring: drift between the training data and scored batches of new mail."""
