"""The Slack adapter: turns Slack payloads into core calls and core results into Block Kit."""
