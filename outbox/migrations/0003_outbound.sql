-- congthu store schema, version 3: the dispatcher's bookkeeping for mail to
-- other domains (issue 4). delay_notified is 1 once the sender was told
-- that delivery to the recipient is delayed (an RFC 3464 "Action: delayed"
-- report), so that the notice goes out once per recipient.
ALTER TABLE outbox_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
