"""Training: augmentation of the labeled corpus, writer-grouped model selection, the final fit."""
