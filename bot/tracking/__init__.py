"""Pure tracking logic shared by the tracking cogs and the backfill: no Discord I/O, no database."""
