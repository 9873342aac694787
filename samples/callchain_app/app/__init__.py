"""A tiny report generator: reads records, cleans them, processes them, prints a summary."""
