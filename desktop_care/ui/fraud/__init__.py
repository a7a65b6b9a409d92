"""Fraud stop: the page of blocks, FRAUD-STOP and its dialogs."""
