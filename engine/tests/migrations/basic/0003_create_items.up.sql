CREATE TABLE items (
    order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    sku text NOT NULL,
    quantity int NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);
COMMENT ON TABLE items IS 'order lines; one per sku';
