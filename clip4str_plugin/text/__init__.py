"""Text rules shared by data, models and metrics: charsets, label rules, CLIP's tokenizer."""
