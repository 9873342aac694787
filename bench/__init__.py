"""Benchmarks: Troupe's end-to-end overhead against the Kafka floor and a Temporal baseline (`make bench`)."""
