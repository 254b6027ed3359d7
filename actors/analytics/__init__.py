"""Analytics capability: set-based report SQL, snapshots, the refresh actor and report files."""
