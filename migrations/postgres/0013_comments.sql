-- What each table and column of migrations 0009-0011 holds, for an operator reading the
-- database (times are Unix milliseconds unless a column says otherwise).

COMMENT ON COLUMN notify_outbox.event IS 'The event type: contact.final (also the reminder notification), call.launched, call.answered, call.ended, transfer.started, optout, inbound.received.';
COMMENT ON COLUMN notify_outbox.format IS 'notify: the reminder notification''s payload; event: the signed event body.';
COMMENT ON COLUMN notify_outbox.attempt_id IS 'The attempt the event is about, if any.';
COMMENT ON COLUMN notify_outbox.data IS 'The event''s data (JSON) as it was when the fact was recorded.';
COMMENT ON COLUMN notify_targets.stopped_at IS 'When the receiver answered 410 Gone: deliveries stopped until the URL changes.';

COMMENT ON TABLE event_targets IS 'Where each campaign''s events are POSTed ([events] url) and which types.';
COMMENT ON COLUMN event_targets.campaign_id IS 'The campaign.';
COMMENT ON COLUMN event_targets.url IS 'The receiver''s URL.';
COMMENT ON COLUMN event_targets.types IS 'The event types sent, comma-wrapped (,call.ended,contact.final,).';
COMMENT ON COLUMN event_targets.stopped_at IS 'When the receiver answered 410 Gone; NULL while it receives.';
COMMENT ON COLUMN event_targets.updated_at IS 'When the campaign folder last set it.';

COMMENT ON TABLE inbound_calls IS 'Every call received on the inbound URL (callbacks): caller, match, route and outcome.';
COMMENT ON COLUMN inbound_calls.id IS 'Row id.';
COMMENT ON COLUMN inbound_calls.provider_call_id IS 'The provider''s call id (ID).';
COMMENT ON COLUMN inbound_calls.caller IS 'The caller, E.164, or anonymous.';
COMMENT ON COLUMN inbound_calls.did IS 'The number called (one of the campaigns'' caller_id).';
COMMENT ON COLUMN inbound_calls.campaign_id IS 'The campaign of the matched contact, if any.';
COMMENT ON COLUMN inbound_calls.contact_id IS 'The matched contact, if any.';
COMMENT ON COLUMN inbound_calls.route IS 'What the call did: agent, menu or greeting.';
COMMENT ON COLUMN inbound_calls.outcome IS 'How it ended: to_agent, opted_out, confirmed, cancelled…';
COMMENT ON COLUMN inbound_calls.received_at IS 'When the first request arrived.';
COMMENT ON COLUMN inbound_calls.ended_at IS 'When the call ended.';
COMMENT ON COLUMN inbound_calls.duration_seconds IS 'Call duration from the call report.';
COMMENT ON COLUMN inbound_calls.talk_seconds IS 'Billed seconds from the call report.';

COMMENT ON TABLE contact_captures IS 'What callees said ([[capture]] steps): one row per contact and field.';
COMMENT ON COLUMN contact_captures.id IS 'Row id.';
COMMENT ON COLUMN contact_captures.contact_id IS 'The contact.';
COMMENT ON COLUMN contact_captures.campaign_id IS 'The campaign.';
COMMENT ON COLUMN contact_captures.attempt_id IS 'The call in which it was said.';
COMMENT ON COLUMN contact_captures.field IS 'The capture step''s field name.';
COMMENT ON COLUMN contact_captures.status IS 'ok (text is the transcript), empty (nothing understood) or failed.';
COMMENT ON COLUMN contact_captures.text IS 'The transcript.';
COMMENT ON COLUMN contact_captures.captured_at IS 'When the transcript arrived.';

COMMENT ON TABLE dnc_hashed IS 'Hashed exclusion lists: SHA-256 of E.164 numbers, lowercase hex; the plain numbers are never stored.';
COMMENT ON COLUMN dnc_hashed.digest IS 'SHA-256 of the E.164 number, hex.';
COMMENT ON COLUMN dnc_hashed.source IS 'The list it came from (file name).';
COMMENT ON COLUMN dnc_hashed.added_at IS 'When it was imported.';

COMMENT ON TABLE agents IS 'The desk''s agents and their live state.';
COMMENT ON COLUMN agents.name IS 'The agent''s login name.';
COMMENT ON COLUMN agents.extension IS 'The extension rung with dial extension,<ext>,<ring>.';
COMMENT ON COLUMN agents.team IS 'The team a campaign names with agent = "desk:TEAM".';
COMMENT ON COLUMN agents.password_hash IS 'argon2id hash of the desk password (PHC string).';
COMMENT ON COLUMN agents.state IS 'logged_out, ready, paused, on_call or wrapup.';
COMMENT ON COLUMN agents.reason IS 'Why paused (e.g. no answer).';
COMMENT ON COLUMN agents.state_since IS 'When the state began (orders the ready agents: idle longest first).';
COMMENT ON COLUMN agents.attempt_id IS 'The call the agent is on or wrapping up.';
COMMENT ON COLUMN agents.wrapup_until IS 'When the wrap-up ends.';
COMMENT ON COLUMN agents.last_seen IS 'The desk page''s last heartbeat.';
COMMENT ON COLUMN agents.created_at IS 'When the agent was added.';

COMMENT ON TABLE agent_calls IS 'One row per ring of an agent: the call offered and whether it was taken.';
COMMENT ON COLUMN agent_calls.id IS 'Row id.';
COMMENT ON COLUMN agent_calls.attempt_id IS 'The call.';
COMMENT ON COLUMN agent_calls.agent IS 'The agent rung.';
COMMENT ON COLUMN agent_calls.campaign_id IS 'The campaign.';
COMMENT ON COLUMN agent_calls.assigned_at IS 'When the transfer command left.';
COMMENT ON COLUMN agent_calls.answered_at IS 'When the agent picked up.';
COMMENT ON COLUMN agent_calls.ended_at IS 'When the call ended.';
COMMENT ON COLUMN agent_calls.wrapup_ended_at IS 'When the wrap-up ended.';
COMMENT ON COLUMN agent_calls.result IS 'answered, no_answer…';

COMMENT ON TABLE dispositions IS 'What the agent recorded after a call.';
COMMENT ON COLUMN dispositions.attempt_id IS 'The call.';
COMMENT ON COLUMN dispositions.agent IS 'The agent who recorded it.';
COMMENT ON COLUMN dispositions.campaign_id IS 'The campaign.';
COMMENT ON COLUMN dispositions.contact_id IS 'The contact.';
COMMENT ON COLUMN dispositions.disposition IS 'One of the campaign''s dispositions.';
COMMENT ON COLUMN dispositions.note IS 'The agent''s note.';
COMMENT ON COLUMN dispositions.callback_at IS 'For a callback disposition: when to call back.';
COMMENT ON COLUMN dispositions.created_at IS 'When it was recorded.';
COMMENT ON COLUMN contacts.callback_agent IS 'The agent a scheduled callback goes to first.';
