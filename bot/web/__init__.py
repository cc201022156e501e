"""The web dashboard: an aiohttp server of read-only pages for admins, mentors and members (issue #15)."""
