"""Storage: the framework's tables, engines and sessions for SQLite and PostgreSQL, migrations."""
