-- Each desk agent's states over time, written by the database whenever an agent's state
-- changes (whichever path changes it: the desk, routing, wrap-ups ending, closed pages): the
-- report's idle time per agent is the time spent ready, waiting for a call.
CREATE TABLE agent_states (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    agent  TEXT NOT NULL,
    state  TEXT NOT NULL,
    since  INTEGER NOT NULL
);
CREATE INDEX agent_states_agent ON agent_states (agent, since);

INSERT INTO agent_states (agent, state, since) SELECT name, state, state_since FROM agents;

CREATE TRIGGER agent_states_insert AFTER INSERT ON agents
BEGIN
    INSERT INTO agent_states (agent, state, since) VALUES (NEW.name, NEW.state, NEW.state_since);
END;

CREATE TRIGGER agent_states_update AFTER UPDATE OF state ON agents
WHEN NEW.state <> OLD.state
BEGIN
    INSERT INTO agent_states (agent, state, since) VALUES (NEW.name, NEW.state, NEW.state_since);
END;
