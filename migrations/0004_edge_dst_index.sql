-- Inbound questions (the runbook's "everything talking to a namespace", edges --dst, --ns and
-- --peers-of) filter on dst_ns, which the primary key (src_ns, dst_ns, action) cannot serve: without
-- this index each one reads the whole table (15 ms at 100,000 edges, growing with it).
-- dst_ns never changes once a row exists, so the aggregator's updates of last_seen and flow_count
-- stay HOT (no index entry to rewrite); the only cost is one index entry per new edge.
-- The edge table's columns stay exactly as the runbook has them.
CREATE INDEX IF NOT EXISTS edge_dst_ns ON edge (dst_ns);
