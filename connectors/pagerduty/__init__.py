"""PagerDuty's REST API v2: who is on call (connectors/pagerduty/client.py)."""
