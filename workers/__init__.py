"""Background work: scoring, and later drift, rollups, budgets and alerts."""
