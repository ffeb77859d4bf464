"""Test infrastructure: free ports, a fake SMS provider, a throw-away PostgreSQL, the gateway as a process
and in this process, and the helpers tests share (no test module imports another)."""
