"""Queue workers and scheduled jobs: they act as the system (the service role)."""
