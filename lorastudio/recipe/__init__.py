"""The recipe: its schema, its text and how it is read, written and compared."""
