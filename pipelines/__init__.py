"""One package per competition (its files, columns, metric and submission format) plus the shared steps."""
