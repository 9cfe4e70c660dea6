"""A local Salesforce org that speaks the REST protocol, for tests, demos and benchmarks."""
