"""The webhooks service: subscriptions, and signed, retried deliveries of the platform's events."""
