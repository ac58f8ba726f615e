"""Guards: what may leave the device and what may run: the network guard, file permissions, secrets and the
redaction of every log line and error."""
