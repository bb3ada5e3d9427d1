DROP FUNCTION order_label(orders);
DROP INDEX orders_status;
ALTER TABLE orders DROP COLUMN status;
