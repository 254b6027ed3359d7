"""Authentication: tokens, cookies, passwords, API keys, the role guard and login throttling."""
