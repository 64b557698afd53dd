"""Development only: embedded Postgres and Redis servers, and `make run`'s demo setup.
Production points config.yml at real servers and never runs any of it."""
