-- The runbook's canonical DDL for the durable trail, unchanged: every SQL recipe in the runbook
-- runs against this table. IF NOT EXISTS because a database created by the original service
-- already has it (with its rows), and the aggregator creates it idempotently at startup.
CREATE TABLE IF NOT EXISTS edge(src_ns text, dst_ns text, action text, first_seen timestamptz, last_seen timestamptz, flow_count bigint, PRIMARY KEY (src_ns, dst_ns, action));
