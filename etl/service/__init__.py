"""Use cases over ports: what the pipeline does with a message, whatever stores it."""
