-- A least-privilege role for the Debezium connector.
--
-- What the connector does with it, and the privilege each step needs:
--   * streams from a logical replication slot it creates (slot.name):
--     the REPLICATION attribute;
--   * creates, and on restart re-aligns, the filtered publication
--     (publication.autocreate.mode=filtered: CREATE PUBLICATION ... FOR TABLE,
--     ALTER PUBLICATION ... SET TABLE): CREATE on the database and ownership
--     of every published table;
--   * snapshots the tables (snapshot.mode=initial): SELECT;
--   * upserts its heartbeat row (heartbeat.action.query): INSERT, UPDATE.
--
-- Postgres only lets a table's owner publish it. Rather than give the tables
-- to the connector's login, they belong to a NOLOGIN group role that both the
-- administrators and the connector are members of (the approach Debezium's
-- documentation describes for pgoutput).
--
-- The password is the stack's development default; it also appears in
-- debezium-connectors/*.json. Change both for anything shared (or keep the
-- password out of the connector JSON with a Kafka Connect config provider).
CREATE ROLE thmanyah_owner NOLOGIN;
CREATE ROLE debezium WITH LOGIN REPLICATION PASSWORD 'debezium';
GRANT thmanyah_owner TO debezium;

ALTER TABLE content OWNER TO thmanyah_owner;
ALTER TABLE engagement_events OWNER TO thmanyah_owner; -- its id sequence follows
ALTER TABLE debezium_heartbeat OWNER TO thmanyah_owner;

DO $$
BEGIN
  EXECUTE format('GRANT CREATE ON DATABASE %I TO debezium', current_database());
END
$$;
