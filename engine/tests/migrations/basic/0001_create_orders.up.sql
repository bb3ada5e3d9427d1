-- Orders, the first table.
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer text NOT NULL,
    total numeric(10, 2) NOT NULL DEFAULT 0
);
