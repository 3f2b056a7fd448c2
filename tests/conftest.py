import os

# Tests never touch a developer's running platform: their bus names and databases
# are their own, and the gateway tests use an operator token of their own.
os.environ.setdefault("GANTRY_LOG_LEVEL", "WARNING")
