"""Audio ports: microphones and speakers behind two small protocols. Knows nothing of Live."""
