-- no-transaction
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
CREATE INDEX CONCURRENTLY orders_customer ON orders (customer);
CREATE INDEX CONCURRENTLY orders_total ON orders (total);
