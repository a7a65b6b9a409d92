"""The Society Users page and the actions on a user."""
