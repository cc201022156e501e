"""Command plumbing shared by the command cogs: user-facing errors, permission checks, report replies."""
