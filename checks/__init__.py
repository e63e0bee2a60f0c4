"""Built-in checks: one module per check, named after its id (``ssm.values`` -> ``ssm_values.py``)."""
