-- $search is PostgreSQL full-text search with the "english" configuration (shared/catalog/model.py:
-- TEXT_SEARCH_CONFIG) over each entity's searchable fields joined by spaces, in model order. The tsvector is a
-- stored generated column, so a search never recomputes it per row (a plan that walks the key order and filters
-- stays cheap) and its GIN index serves "@@". The searchable columns are NOT NULL, so no row's document is null.
ALTER TABLE products ADD COLUMN search_document tsvector GENERATED ALWAYS AS
    (to_tsvector('english'::regconfig, sku || ' ' || name || ' ' || description)) STORED;
CREATE INDEX products_search_idx ON products USING gin (search_document);

ALTER TABLE categories ADD COLUMN search_document tsvector GENERATED ALWAYS AS
    (to_tsvector('english'::regconfig, name || ' ' || slug)) STORED;
CREATE INDEX categories_search_idx ON categories USING gin (search_document);

ALTER TABLE customers ADD COLUMN search_document tsvector GENERATED ALWAYS AS
    (to_tsvector('english'::regconfig, email || ' ' || first_name || ' ' || last_name || ' ' || city)) STORED;
CREATE INDEX customers_search_idx ON customers USING gin (search_document);

ALTER TABLE orders ADD COLUMN search_document tsvector GENERATED ALWAYS AS
    (to_tsvector('english'::regconfig, number)) STORED;
CREATE INDEX orders_search_idx ON orders USING gin (search_document);
