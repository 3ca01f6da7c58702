-- How far a running job has read its file, for the progress bar's total: the file's lines, counted as the upload
-- streams in, and the line the worker has reached. rows_total stays the exact count, known when the job ends.
ALTER TABLE jobs ADD COLUMN lines_total bigint CHECK (lines_total >= 0);
ALTER TABLE jobs ADD COLUMN lines_done bigint NOT NULL DEFAULT 0;
