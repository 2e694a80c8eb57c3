-- A draft's animatic preview (issue 17): the last render's start (the rate limit, for
-- every process), the render under way, and the last posted preview (a press on an
-- unchanged draft links to it instead of rendering again).
CREATE TABLE draft_previews (
    draft_id       BIGINT  PRIMARY KEY REFERENCES drafts (id) ON DELETE CASCADE,
    started_at     DOUBLE PRECISION NOT NULL,   -- the last render's start, on Discord's clock
    rendering_key  TEXT,               -- animatic_key of the render under way, if any
    shown_key      TEXT,               -- animatic_key of the last posted preview
    channel_id     BIGINT,             -- where it was posted (the draft's thread)
    message_id     BIGINT
);
