-- OData sorts nulls first ascending and last descending; the sort indexes of the nullable sortable fields are
-- built in that order (a backward scan serves "DESC NULLS LAST"), and cover the foreign-key lookups 001 indexed.
DROP INDEX products_category_idx;
CREATE INDEX products_category_idx ON products (category_id NULLS FIRST, id);
DROP INDEX categories_parent_idx;
CREATE INDEX categories_parent_idx ON categories (parent_id NULLS FIRST, id);
