"""llmrec.experiment."""
