"""Everything between files on disk and model-ready batches."""
