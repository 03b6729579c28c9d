"""Storage: the only code that knows table keys, secret names and AWS error codes."""
