"""One module per HTTP route or scheduled job: thin Lambda entry points."""
