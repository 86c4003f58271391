"""Settings: profile, business and notification preferences (/api/settings)."""
