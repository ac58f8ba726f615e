"""Camera frames for the model: where they come from (files, V4L2 cameras), their size, and their pace.

Knows nothing of Live (nor of `google`, `websockets`), like `runtime.audio`: the session hands each JPEG to the
connection.
"""
