"""Owner-scoped async queries. Repositories flush but never commit: the service owns the unit of work."""
