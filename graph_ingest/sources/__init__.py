"""One module per Graph source. Each has pure parse functions (bytes or dicts in, records out)."""
