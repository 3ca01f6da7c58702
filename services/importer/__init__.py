"""The importer: owns the `importer` schema (mappers, import jobs, uploads, row errors), the import API and the
worker that turns queued CSV uploads into catalog rows."""
