"""Documents Tempodesk renders for a ticket (PDF): pure functions of a view, no I/O."""
