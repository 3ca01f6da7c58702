-- Who made a mapper, as an identity ("user:<id>", "client:<client id>"), never a display name another developer
-- could copy; NULL for the platform's own mappers (made by the operator's CLI), which only an admin changes.
ALTER TABLE mappers ADD COLUMN owner text CHECK (length(owner) <= 200);
