"""Pure helpers for the report commands: option checks and query results turned into render models."""
