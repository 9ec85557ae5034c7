"""Adapters to the outside world: Stripe, the web app's JSON files, access logs."""
