"""The core: models, the database, configuration, languages, time, references to records,
channel-neutral replies. Imports nothing of the bot above it."""
