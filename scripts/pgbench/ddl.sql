-- revy's journal tables and the bench's 8-column data table (see run.sh).
CREATE TABLE items (id bigserial primary key, quantity int not null, count bigint not null, label text not null, price numeric(20,4) not null, created_at timestamptz not null, active bool not null, note text);
CREATE TABLE revy_revisions (id bigserial primary key, description text not null, meta json, created_at timestamptz not null);
CREATE TABLE revy_object_deltas (id bigserial primary key, revision_id bigint not null references revy_revisions(id) on delete restrict, actor_type varchar(255), actor_id varchar(255), action varchar(16) not null, description text not null, content_type varchar(128) not null, content_id varchar(255) not null, created_at timestamptz not null, version bigint not null, hash varchar(64), seal varchar(64), salt text, changes text not null, state text);
CREATE INDEX idx_content ON revy_object_deltas (content_type, content_id, id);
CREATE INDEX idx_rev ON revy_object_deltas (revision_id);
CREATE OR REPLACE FUNCTION revy_feed_notify() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('revy_feed', TG_TABLE_SCHEMA); RETURN NULL; END $$;
CREATE TRIGGER revy_feed_notify AFTER INSERT ON revy_object_deltas FOR EACH STATEMENT EXECUTE FUNCTION revy_feed_notify();
