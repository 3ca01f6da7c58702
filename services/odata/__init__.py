"""The odata service: read-only data APIs over the catalog entity model (shared/catalog/model.py), compiled to
parameterized SQL and checked against the caller's permissions (`<resource>:read` for every entity read, including
every $expand target and Query API relation; 403 otherwise, 401 without the gateway's signed principal).

OData v4 at /odata (JSON, OData-Version: 4.0):
  supported   service document (/odata/), $metadata (CSDL XML), entity sets, single entities (/odata/products(4)),
              /odata/<set>/$count; $select; $filter with eq ne gt ge lt le, and or not, parentheses, in, null,
              add sub mul div divby mod, unary minus, contains startswith endswith tolower toupper trim length
              indexof concat substring, round floor ceiling, year month day hour minute second now, literals
              (strings, integers, decimals, booleans, dates, date-times) and parameter aliases (@p); $orderby on
              several properties asc/desc; $top; $skip; $count=true; $search (words and "phrases", all must match
              a searchable field); $expand of direct navigation properties with nested $select and, on
              collections, nested $filter/$orderby/$top/$skip applied per parent entity; server-driven
              paging with @odata.nextLink (keyset $skiptoken, nullable sort fields included) and MAX_PAGE_SIZE;
              @odata.context; errors {"error": {"code", "message", "target"}}. Null follows OData 4.01, not SQL:
              comparisons are never null (docs/api.md, "Null values"); nulls sort first ascending.
  501         $apply, $compute, $levels, $deltatoken, $index, $schemaversion, $format other than JSON,
              navigation paths in $filter/$orderby (category/name), lambda any/all, has, isof/cast,
              matchespattern and the other functions not listed, expressions in $orderby, $expand=* or nested
              paths, $expand/$count/$levels/$search inside $expand, $search with OR/NOT, property and $ref paths.
  limits      query string 8000 characters, expression 4000 characters and 32 levels deep, 500 values in an
              `in` list, 5 expanded navigation properties, 10,000 expanded entities per request,
              STATEMENT_TIMEOUT_MS per statement (503 query_timeout past it).

Query API at POST /api/query: see services/odata/query_language.py for the language.
"""
