-- $search is PostgreSQL full-text search with the "english" configuration (shared/catalog/model.py:
-- TEXT_SEARCH_CONFIG) over each entity's searchable fields joined by spaces, in model order. These expression
-- indexes hold exactly the tsvector the odata service computes (model.search_document), so "@@" is an index scan;
-- the searchable columns are NOT NULL, so no row's document is null.
CREATE INDEX products_search_idx ON products
    USING gin (to_tsvector('english'::regconfig, "sku" || ' ' || "name" || ' ' || "description"));
CREATE INDEX categories_search_idx ON categories
    USING gin (to_tsvector('english'::regconfig, "name" || ' ' || "slug"));
CREATE INDEX customers_search_idx ON customers
    USING gin (to_tsvector('english'::regconfig, "email" || ' ' || "first_name" || ' ' || "last_name" || ' ' || "city"));
CREATE INDEX orders_search_idx ON orders
    USING gin (to_tsvector('english'::regconfig, "number"));
