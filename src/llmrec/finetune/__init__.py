"""llmrec.finetune."""
