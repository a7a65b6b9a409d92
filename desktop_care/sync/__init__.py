"""Talking to the server: the REST client (and, later, the local cache, outbox and syncer)."""
