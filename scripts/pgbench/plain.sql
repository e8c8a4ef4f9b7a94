BEGIN;
INSERT INTO items (quantity,count,label,price,created_at,active,note) VALUES (1, 1000, 'item 1', 1.99, now(), true, NULL) RETURNING id \gset
COMMIT;
