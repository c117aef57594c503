"""Task definitions, the sweeper and the periodic ticker. No business logic: handlers call services."""
