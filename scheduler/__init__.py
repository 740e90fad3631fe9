"""The clock process: the one scheduler. Jobs only write rows (the outbox, housekeeping); they
never call LINE themselves."""
