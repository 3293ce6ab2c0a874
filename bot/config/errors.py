"""The one error a bad environment or config file raises."""


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is wrong."""
