-- no-transaction
DROP INDEX CONCURRENTLY orders_total;
DROP INDEX CONCURRENTLY orders_customer;
