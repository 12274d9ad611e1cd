-- Survey answers, one row per attempt and question (a repeated question keeps the last key).
CREATE TABLE survey_answers (
    id           BIGSERIAL PRIMARY KEY,
    attempt_id   BIGINT NOT NULL REFERENCES attempts(id),
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id),
    question     TEXT NOT NULL,
    answer       TEXT NOT NULL,
    answered_at  BIGINT NOT NULL,
    UNIQUE (attempt_id, question)
);
CREATE INDEX survey_answers_campaign ON survey_answers (campaign_id);
