"""HTTP routes: each one checks the caller's role and hands the work to service.core."""
