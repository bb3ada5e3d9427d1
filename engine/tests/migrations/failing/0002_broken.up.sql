CREATE TABLE audit (id int);
INSERT INTO audit VALUES (1);

UPDATE orders
   SET total = 0
 WHERE no_such_column = 1;
CREATE TABLE never_created (id int);
