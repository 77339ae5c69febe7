"""llmrec.metrics."""
