"""peewee models, one module per domain. `ALL_MODELS` is what the migrations create."""
