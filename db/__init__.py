"""Storage: table definitions, the engine factory and the repositories (all SQL lives here)."""
