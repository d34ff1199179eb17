"""The demo: a seeded register around Bergen, a staff login, and the services running together."""
