ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
CREATE INDEX orders_status ON orders (status);

-- A body with semicolons in it: the statement splitter must keep it whole.
CREATE FUNCTION order_label(o orders) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN o.customer || ';' || o.status;
END;
$$;
