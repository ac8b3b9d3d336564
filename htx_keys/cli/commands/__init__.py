"""One module per command or group; each imports its use cases (htx_keys.app) when it runs."""
