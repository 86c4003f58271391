"""The local, Supabase-compatible stack for development and tests (never deployed)."""
