"""Gateway service: the HTTP API that publishes new tasks and reads task projections from MongoDB."""
