"""Opsgenie's Who Is On Call API (connectors/opsgenie/client.py)."""
