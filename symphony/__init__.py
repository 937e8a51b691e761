"""Symphony's shared domain package: record contracts, reference data, the data generator and the
operator CLI (``python -m symphony``). Handlers, Glue jobs, the generator and the simulator import
it; it reaches Lambda as a layer built from this folder (``stacks/components/shared_code.py``)."""

__version__ = "0.1.0"
