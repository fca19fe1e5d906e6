-- The feature_flags table of the voice-agent application (read through Supabase, i.e.
-- PostgreSQL), as examples/voice-agent-postgres.yaml drives it: a row per flag. The
-- operator never creates tables or rows; it updates the mapped columns of existing rows.
CREATE TABLE IF NOT EXISTS public.feature_flags (
  name             text PRIMARY KEY,
  enabled          boolean NOT NULL DEFAULT false,
  percentage       integer NOT NULL DEFAULT 0 CHECK (percentage BETWEEN 0 AND 100),
  enabled_tenants  text[]  NOT NULL DEFAULT '{}',
  disabled_tenants text[]  NOT NULL DEFAULT '{}',
  description      text
);
INSERT INTO public.feature_flags (name, description)
VALUES ('voice_agent_v2', 'Voice agent v2 (driven by AgentRollout voice/voice-agent-v2-postgres)')
ON CONFLICT (name) DO NOTHING;

-- The operator's role: read the rows, update only the four columns it writes. Create the
-- role once, with its password in the Secret's URI:
--   CREATE ROLE flag_writer LOGIN PASSWORD '...';
GRANT SELECT, UPDATE (enabled, percentage, enabled_tenants, disabled_tenants)
  ON public.feature_flags TO flag_writer;
