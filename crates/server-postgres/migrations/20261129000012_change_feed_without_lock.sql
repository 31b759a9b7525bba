-- The change feed without a global lock: appends no longer serialise behind one
-- advisory lock, so record writes commit (and flush the WAL) together.
--
-- A change's seq is now (id of the transaction that wrote it << 20) | an ordinal
-- that only keeps a transaction's own entries apart. A feed serves only entries of
-- transactions that have finished (seq below the oldest running transaction id
-- << 20, see SETTLED_CHANGES_SQL in crates/server-postgres/src/lib.rs); every
-- transaction still running, or yet to start, has a greater id, so whatever it
-- commits lands after every cursor already handed out.
--
-- Entries written before this migration keep their small seqs: each of them took
-- a transaction id, and no transaction wrote 2^20 of them, so they all sort below
-- the new ones and cursors devices hold today stay valid.
CREATE SEQUENCE changes_ordinal AS BIGINT MINVALUE 0 MAXVALUE 1048575 START 0 CYCLE;
ALTER TABLE changes ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE changes ALTER COLUMN seq SET DEFAULT
    ((pg_current_xact_id()::text::bigint << 20) | nextval('changes_ordinal'));
