"""The observatory's read-only dashboard: queries, login sessions, HTML pages (no CDN, no build step)."""
