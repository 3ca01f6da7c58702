-- Indexes for the sortable fields of the entity model (shared/catalog/model.py) that 001 left without one, each
-- ending in the key so that "ORDER BY field, id LIMIT n" and keyset paging ($skiptoken) are index scans.
CREATE INDEX products_stock_idx ON products (stock, id);
CREATE INDEX products_created_idx ON products (created_at, id);
CREATE INDEX categories_name_idx ON categories (name, id);
CREATE INDEX customers_last_name_idx ON customers (last_name, id);
CREATE INDEX orders_status_idx ON orders (status, id);
