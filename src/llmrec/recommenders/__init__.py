"""llmrec.recommenders."""
