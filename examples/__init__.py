"""Examples of using the platform from the outside."""
