-- api.php tokens may be given a lifetime by the operator (APIPHP_TOKEN_TTL); NULL is Webasyst's "never expires".
ALTER TABLE apiphp_tokens ADD COLUMN expires_at timestamptz;
