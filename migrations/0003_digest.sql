-- The digest's own state: every run, the window it covers, and for each Slack message it sends the
-- exact payload and whether Slack accepted it. An edge counts as announced only once the message
-- that carries it was accepted, so a failed, skipped or interrupted run loses nothing.

CREATE TABLE digest_run (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The window the message shows: edges first recorded (edge_recorded.recorded_at) after
  -- window_from, the end of the last successful run, up to window_to, now() when it was planned.
  window_from   timestamptz NOT NULL,
  window_to     timestamptz NOT NULL,
  -- sending: planned, not every message accepted yet; a run that died stays here and the next
  --          invocation resumes it.
  -- posted:  every message accepted. empty: nothing new, nothing sent. Both move the watermark.
  -- failed:  Slack refused a message or retries ran out; the edges of its unaccepted messages go
  --          to the next run.
  status        text        NOT NULL CHECK (status IN ('sending', 'posted', 'empty', 'failed')),
  edge_count    integer     NOT NULL,
  message_count integer     NOT NULL,
  planned_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  error         text,
  CHECK (window_to >= window_from)
);
-- At most one unfinished run: a second one would announce the same edges again.
CREATE UNIQUE INDEX digest_run_one_unfinished ON digest_run ((true)) WHERE status = 'sending';
-- The watermark query: the newest successful run.
CREATE INDEX digest_run_successful ON digest_run (window_to) WHERE status IN ('posted', 'empty');

CREATE TABLE digest_message (
  run_id          bigint      NOT NULL REFERENCES digest_run (id),
  -- 1-based; the "(seq/message_count)" label of the message.
  seq             integer     NOT NULL CHECK (seq >= 1),
  -- The exact JSON body, so that a resumed run sends the same bytes it planned.
  payload         text        NOT NULL,
  edge_count      integer     NOT NULL,
  -- pending: not sent yet. sending: a request went out and no answer was recorded; if the process
  -- died here, whether Slack posted it is unknown (docs/digest.md: it is sent again).
  -- accepted: Slack answered 200 ok. failed: Slack refused it or retries ran out.
  status          text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'sending', 'accepted', 'failed')),
  attempts        integer     NOT NULL DEFAULT 0,
  last_attempt_at timestamptz,
  accepted_at     timestamptz,
  -- Slack's last answer ("429 rate_limited", "500 rollup_error") or the network error.
  last_answer     text,
  PRIMARY KEY (run_id, seq)
);

-- Which message of which run carries each edge.
CREATE TABLE digest_edge (
  run_id  bigint  NOT NULL,
  seq     integer NOT NULL,
  src_ns  text    NOT NULL,
  dst_ns  text    NOT NULL,
  action  text    NOT NULL,
  PRIMARY KEY (run_id, src_ns, dst_ns, action),
  FOREIGN KEY (run_id, seq) REFERENCES digest_message (run_id, seq)
);
-- "Was this edge already announced?" is asked for every candidate edge of every run.
CREATE INDEX digest_edge_by_edge ON digest_edge (src_ns, dst_ns, action);
