"""Test infrastructure: free ports, a fake SMS provider, a throw-away PostgreSQL, the gateway as a process."""
