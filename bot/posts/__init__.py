"""Scheduled posts: when they are due, event attendance, and the loop that posts each one exactly once."""
