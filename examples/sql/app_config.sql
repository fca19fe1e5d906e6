-- The app_config table of the unified-webhook service: one jsonb document of flags per
-- config row, as examples/unified-webhook-postgres.yaml drives it. Before the operator,
-- the runbook raised the rollout by hand:
--   UPDATE app_config SET value = jsonb_set(value, '{unifiedServiceRolloutPercent}', '1')
--   WHERE key = 'webhook_flags';
-- The operator does the same inside a transaction that locks the row, and changes only
-- its paths: every other key of the document stays as it is.
CREATE TABLE IF NOT EXISTS app_config (
  key        text PRIMARY KEY,
  value      jsonb NOT NULL DEFAULT '{}',
  updated_by text
);
INSERT INTO app_config (key, value)
VALUES ('webhook_flags',
        '{"unifiedServiceEnabled": false, "unifiedServiceRolloutPercent": 0, "legacyRetries": 3}')
ON CONFLICT (key) DO NOTHING;

-- The operator's role (CREATE ROLE flag_writer LOGIN PASSWORD '...'; once).
GRANT SELECT, UPDATE (value) ON app_config TO flag_writer;
