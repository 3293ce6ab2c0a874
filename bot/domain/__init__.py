"""The request lifecycle's vocabulary: states, the one transition table, policy, errors."""
