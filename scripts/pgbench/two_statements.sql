BEGIN;
INSERT INTO items (quantity,count,label,price,created_at,active,note) VALUES (1, 1000, 'item 1', 1.99, now(), true, NULL) RETURNING id \gset
INSERT INTO revy_revisions (description, meta, created_at) VALUES ('', NULL, now()) RETURNING id AS rid \gset
INSERT INTO revy_object_deltas (revision_id, actor_type, actor_id, action, description, content_type, content_id, created_at, version, changes) SELECT :rid, 'users', '42', 'Create', '', 'bench_items', :id::text, now(), cur.version + 1, '[["id",{"a" null},1],["quantity",1],["count",1000],["label","item 1"],["price","1.9900"],["created_at","2023-11-14T22 13 20Z"],["active",true],["note",null]]' FROM (SELECT COALESCE((SELECT version FROM revy_object_deltas WHERE content_type='bench_items' AND content_id=:id::text ORDER BY id DESC LIMIT 1),0) AS version) cur RETURNING id;
COMMIT;
