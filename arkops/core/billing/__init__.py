"""Billing: the ledger of Stripe customers, subscriptions, invoices and refunds, and its reports."""
