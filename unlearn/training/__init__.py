"""Training: token blocks, the Lightning module every fine-tune uses, and the Trainer factory."""
