"""Finding members and looking at one: the search view, its table model, the details."""
