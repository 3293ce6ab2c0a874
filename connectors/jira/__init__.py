"""Jira Cloud: read-only, to check the tickets requests cite.  Not a connector: it grants nothing."""
