-- Each desk agent's states over time, written by the database whenever an agent's state
-- changes (whichever path changes it: the desk, routing, wrap-ups ending, closed pages): the
-- report's idle time per agent is the time spent ready, waiting for a call.
CREATE TABLE agent_states (
    id     BIGSERIAL PRIMARY KEY,
    agent  TEXT NOT NULL,
    state  TEXT NOT NULL,
    since  BIGINT NOT NULL
);
CREATE INDEX agent_states_agent ON agent_states (agent, since);

INSERT INTO agent_states (agent, state, since) SELECT name, state, state_since FROM agents;

CREATE FUNCTION agent_states_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.state <> OLD.state THEN
        INSERT INTO agent_states (agent, state, since) VALUES (NEW.name, NEW.state, NEW.state_since);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER agent_states_log AFTER INSERT OR UPDATE OF state ON agents
    FOR EACH ROW EXECUTE FUNCTION agent_states_log();

COMMENT ON TABLE agent_states IS 'Each desk agent''s states over time, one row per change (written by a trigger on agents).';
COMMENT ON COLUMN agent_states.id IS 'Row id, in the order the changes were made.';
COMMENT ON COLUMN agent_states.agent IS 'The agent (agents.name).';
COMMENT ON COLUMN agent_states.state IS 'The state entered: logged_out, ready, paused, on_call, wrapup.';
COMMENT ON COLUMN agent_states.since IS 'When it was entered (agents.state_since), Unix ms.';
