"""What the platform's services truly share: config, database, bus, errors, logs and the internal principal."""
