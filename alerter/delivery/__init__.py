"""Delivery: recipients, rendering and the Slack and email notifiers."""
