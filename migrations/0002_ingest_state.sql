-- State of our own, beside the runbook's edge table (whose columns stay as the runbook has them).

-- Where the aggregator resumes Goldmane's stream, written in the same statement as each batch of
-- edges so that a crash can neither lose nor double-count a flow record. One row.
CREATE TABLE ingest_cursor (
  id              smallint    PRIMARY KEY CHECK (id = 1),
  -- The process that owns the cursor ("<instance>/<uuid>"), NULL when released. Only the owner
  -- writes edges; others stand by and take over when it releases the cursor or stops
  -- heartbeating. A writer whose ownership was taken cannot write at all (every write is guarded),
  -- so two aggregators never count the same records.
  writer_id       text,
  -- Sequence number of the owner's last committed batch; a retried batch whose first attempt did
  -- commit (the answer was lost) is recognised by it and not applied twice.
  batch_seq       bigint      NOT NULL,
  -- Every 15-second bucket starting before this has been fully counted.
  resume_from     timestamptz,
  -- Buckets at or after resume_from that are already counted: [[start, end], ...] in unix seconds.
  completed_above jsonb       NOT NULL DEFAULT '[]',
  -- Last time the stream was known to be connected (for gap detection and freshness).
  observed_until  timestamptz,
  -- Start of the first bucket the trail holds.
  observing_since timestamptz,
  -- Written with every batch and at least every 30 s by the owner (its heartbeat).
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Spans in which the trail may have missed flows: the aggregator was away longer than Goldmane's
-- one-hour window. Edges observed around a gap are still exact; edges only active inside it are missing.
CREATE TABLE observation_gap (
  gap_from    timestamptz PRIMARY KEY,
  gap_to      timestamptz NOT NULL,
  reason      text        NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CHECK (gap_to > gap_from)
);

-- When each edge first entered the edge table, by the database clock. The digest reports edges by
-- this time, not by first_seen: an edge backfilled with an old first_seen is still news.
CREATE TABLE edge_recorded (
  src_ns      text        NOT NULL,
  dst_ns      text        NOT NULL,
  action      text        NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (src_ns, dst_ns, action)
);
CREATE INDEX edge_recorded_recorded_at ON edge_recorded (recorded_at);

-- Edges that were already in the table (a database of the original service) entered it no later
-- than their first_seen.
INSERT INTO edge_recorded (src_ns, dst_ns, action, recorded_at)
SELECT src_ns, dst_ns, action, COALESCE(first_seen, now()) FROM edge
ON CONFLICT DO NOTHING;
