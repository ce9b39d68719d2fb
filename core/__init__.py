"""TokenTrail's shared kernel: settings, database, models, pricing and queries."""
