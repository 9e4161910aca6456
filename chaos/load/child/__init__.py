"""The Locust-side entry point, run as a script inside the Locust subprocess only."""
