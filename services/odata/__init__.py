"""The odata service: read-only data APIs over the catalog entity model (shared/catalog/model.py), compiled to
parameterized SQL and checked against the caller's permissions (`<resource>:read` for every entity read, including
every $expand target and Query API relation; 403 otherwise, 401 without the gateway's signed principal).

OData v4 at /odata (JSON, OData-Version: 4.0); docs/api.md lists what is supported, what answers 501 and the
limits. Null follows OData 4.01, not SQL: comparisons are never null ("Null values" there); nulls sort first
ascending. Navigation paths compile to LEFT JOINs, lambdas to EXISTS, $expand to one statement per level.

Query API at POST /api/query: see services/odata/query_language.py for the language.
"""
