"""drift report: periodic reports over the targets of an engine, with history."""
